using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Logging;

namespace EdgePlatform.Agent.Inference;

/// <summary>Where a model's Open Inference Protocol (v2) server listens, the token it wants, and how long a batch may take.</summary>
public sealed record InferenceProtocolEndpoint(Uri BaseAddress, string? BearerToken, TimeSpan Timeout);

/// <summary>
/// A model scored by another process over the Open Inference Protocol (KServe v2), as the
/// agent's scorer serves it inside a model's container. Events bind to rows by the card here,
/// exactly as in-process; each batch is one <c>POST /v2/models/{name}/versions/{version}/infer</c>
/// carrying one FP32 tensor per card input, and the answer is read back into predictions.
/// </summary>
/// <remarks>
/// The request body is written into one buffer reused from batch to batch. Only numeric inputs
/// travel: a card with a string input is refused at construction, and a row with a missing value
/// (NaN, which JSON cannot carry) fails its batch. Disposing the model disposes what stands for
/// its server (a container), in the background, after the client is closed.
/// </remarks>
public sealed class InferenceProtocolModel : ScoringModel
{
    private readonly HttpClient _http;
    private readonly InferenceProtocolEndpoint _endpoint;
    private readonly Uri _inferUri;
    private readonly BoundInput[] _inputs;
    private readonly int[] _inputOffsets;
    private readonly BoundOutput[] _outputs;
    private readonly string[] _classes;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly IAsyncDisposable? _server;
    private readonly ArrayBufferWriter<byte> _body = new(16 * 1024);
    private readonly Lock _scoring = new();

    // Single events reuse these (Score, Warm).
    private readonly float[] _row;
    private readonly RowPrediction[] _one = new RowPrediction[1];

    private InferenceProtocolModel(
        ModelCard card,
        ModelIdentity identity,
        CardBindingPlan plan,
        InferenceProtocolEndpoint endpoint,
        HttpMessageHandler handler,
        ILogger logger,
        TimeProvider timeProvider,
        IAsyncDisposable? server)
        : base(card, identity, new EventBinder(
            plan.Inputs.SelectMany(input => input.Fields),
            [],
            plan.Inputs.Where(input => input.Input.AcceptsMissing).SelectMany(input => input.Fields)))
    {
        _endpoint = endpoint;
        _http = new HttpClient(handler, disposeHandler: true) { BaseAddress = endpoint.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
        if (endpoint.BearerToken is { } token)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        _inferUri = new Uri(
            $"v2/models/{Uri.EscapeDataString(card.Name)}/versions/{Uri.EscapeDataString(card.Version)}/infer",
            UriKind.Relative);
        _inputs = [.. plan.Inputs];
        _inputOffsets = new int[_inputs.Length];
        for (var i = 1; i < _inputs.Length; i++)
        {
            _inputOffsets[i] = _inputOffsets[i - 1] + _inputs[i - 1].Fields.Count;
        }

        _outputs = [.. plan.Outputs];
        _classes = IsMulticlass ? [.. card.Classes!] : [];
        _logger = logger;
        _timeProvider = timeProvider;
        _server = server;
        _row = new float[FeatureCount];
    }

    /// <summary>
    /// A client for <paramref name="card"/>'s model as the server at <paramref name="endpoint"/>
    /// serves it. <paramref name="onnxPath"/> is the verified model file the server was built from:
    /// its digest names the version in telemetry, as in-process. Nothing is sent until the first batch.
    /// </summary>
    /// <remarks>
    /// <c>server</c> stands for the server (a container) and is disposed in the background once this
    /// model is; <c>handler</c> replaces the default connection handler (tests).
    /// </remarks>
    /// <exception cref="ModelLoadException">The card does not bind, binds a string input, or the model file cannot be read.</exception>
    public static InferenceProtocolModel Connect(
        ModelCard card,
        string onnxPath,
        InferenceProtocolEndpoint endpoint,
        ILogger logger,
        TimeProvider timeProvider,
        string? manifestDigest = null,
        IAsyncDisposable? server = null,
        HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(card);
        ArgumentException.ThrowIfNullOrEmpty(onnxPath);
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(timeProvider);

        CardBindingPlan plan;
        try
        {
            // The server checked the card against the graph when it loaded; here the card only lays out rows.
            plan = ModelCardBinding.Check(card, AsGraph(card.Inputs.Select(input => (input.Name, input.ElementType, input.Shape))), AsGraph(card.Outputs.Select(output => (output.Name, output.ElementType, output.Shape))));
        }
        catch (ModelCardBindingException ex)
        {
            throw new ModelLoadException(ex.Message, ex);
        }

        if (plan.Inputs.FirstOrDefault(input => input.IsString) is { } stringInput)
        {
            throw new ModelLoadException(
                $"model '{card.Name}' {card.Version} has string input '{stringInput.Input.Name}'; a model scored over the v2 protocol takes numeric inputs only");
        }

        var identity = new ModelIdentity(card.Name, card.Version, DigestOf(onnxPath)) { ManifestDigest = manifestDigest };
        return new InferenceProtocolModel(
            card, identity, plan, endpoint, handler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }, logger, timeProvider, server);
    }

    /// <inheritdoc/>
    public override TimeSpan Warm()
    {
        lock (_scoring)
        {
            Array.Clear(_row);
            var elapsed = ScoreBatchLocked(_row, _one);
            Log.RemoteModelWarmed(_logger, Identity.Name, Identity.Version, _endpoint.BaseAddress, elapsed.TotalMilliseconds);
            return elapsed;
        }
    }

    /// <inheritdoc/>
    public override ScoreResult Score(ReadOnlySpan<byte> jsonEvent)
    {
        lock (_scoring)
        {
            var started = _timeProvider.GetTimestamp();
            var correlationId = Binder.Bind(jsonEvent, _row);
            ScoreBatchLocked(_row, _one);
            var prediction = _one[0];
            if (prediction.Problem is { } problem)
            {
                throw new ModelOutputException(problem);
            }

            return new ScoreResult(Identity, correlationId, prediction.Label, prediction.Score, prediction.Probability, _timeProvider.GetElapsedTime(started))
            {
                Class = prediction.Class,
                Probabilities = prediction.Probabilities,
            };
        }
    }

    /// <inheritdoc/>
    /// <exception cref="ModelScoringException">The server did not answer in time, refused the batch, or answered with something else than a prediction per row.</exception>
    public override TimeSpan ScoreBatch(ReadOnlySpan<float> featureRows, ReadOnlySpan<string> stringRows, Span<RowPrediction> predictions)
    {
        CheckBatch(featureRows, stringRows, predictions.Length);
        if (predictions.IsEmpty)
        {
            return TimeSpan.Zero;
        }

        lock (_scoring)
        {
            return ScoreBatchLocked(featureRows, predictions);
        }
    }

    protected override void Dispose(bool disposing)
    {
        _http.Dispose();
        if (_server is { } server)
        {
            _ = DisposeServerAsync(server);
        }
    }

    private TimeSpan ScoreBatchLocked(ReadOnlySpan<float> featureRows, Span<RowPrediction> predictions)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        var started = _timeProvider.GetTimestamp();
        WriteRequest(featureRows, predictions.Length);
        using var request = new HttpRequestMessage(HttpMethod.Post, _inferUri)
        {
            Content = new ReadOnlyMemoryContent(_body.WrittenMemory) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        using var timeout = new CancellationTokenSource(_endpoint.Timeout, _timeProvider);
        try
        {
            // Synchronous on purpose: the engine's scoring thread owns the batch until it is scored.
            using var response = _http.Send(request, HttpCompletionOption.ResponseContentRead, timeout.Token);
            using var stream = response.Content.ReadAsStream(timeout.Token);
            using var document = ParseAnswer(response.StatusCode, stream);
            if (!response.IsSuccessStatusCode)
            {
                throw new ModelScoringException(
                    $"the model server at {_endpoint.BaseAddress} refused a batch of {predictions.Length} with {(int)response.StatusCode} {response.StatusCode}: {ErrorOf(document)}");
            }

            ReadPredictions(document.RootElement, predictions);
        }
        catch (OperationCanceledException ex) when (timeout.IsCancellationRequested)
        {
            throw new ModelScoringException(
                $"the model server at {_endpoint.BaseAddress} did not answer a batch of {predictions.Length} within {_endpoint.Timeout.TotalMilliseconds:F0} ms", ex);
        }
        catch (HttpRequestException ex)
        {
            throw new ModelScoringException($"the model server at {_endpoint.BaseAddress} cannot be reached: {ex.Message}", ex);
        }

        return _timeProvider.GetElapsedTime(started);
    }

    private void WriteRequest(ReadOnlySpan<float> featureRows, int rows)
    {
        _body.ResetWrittenCount();
        using var writer = new Utf8JsonWriter(_body);
        writer.WriteStartObject();
        writer.WriteStartArray("inputs"u8);
        var width = FeatureCount;
        for (var i = 0; i < _inputs.Length; i++)
        {
            var input = _inputs[i];
            var fields = input.Fields.Count;
            writer.WriteStartObject();
            writer.WriteString("name"u8, input.Input.Name);
            writer.WriteStartArray("shape"u8);
            writer.WriteNumberValue(rows);
            writer.WriteNumberValue(fields);
            writer.WriteEndArray();
            writer.WriteString("datatype"u8, InferenceProtocol.Float32);
            writer.WriteStartArray("data"u8);
            for (var row = 0; row < rows; row++)
            {
                var values = featureRows.Slice((row * width) + _inputOffsets[i], fields);
                for (var j = 0; j < values.Length; j++)
                {
                    if (!float.IsFinite(values[j]))
                    {
                        throw new ModelScoringException(
                            $"row {row} has no value for field '{input.Fields[j]}'; a missing value cannot be sent to a model scored over the v2 protocol");
                    }

                    writer.WriteNumberValue(values[j]);
                }
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private JsonDocument ParseAnswer(HttpStatusCode status, Stream stream)
    {
        try
        {
            return JsonDocument.Parse(stream);
        }
        catch (JsonException ex)
        {
            throw new ModelScoringException($"the model server at {_endpoint.BaseAddress} answered {(int)status} {status} with a body that is not JSON: {ex.Message}", ex);
        }
    }

    private static string ErrorOf(JsonDocument document) =>
        document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error"u8, out var error) && error.ValueKind == JsonValueKind.String
            ? error.GetString()!
            : "no reason given";

    /// <summary>Reads each card output's tensor from the answer into the predictions; anything missing or mis-shaped fails the batch.</summary>
    private void ReadPredictions(JsonElement answer, Span<RowPrediction> predictions)
    {
        if (answer.ValueKind != JsonValueKind.Object || !answer.TryGetProperty("outputs"u8, out var outputs) || outputs.ValueKind != JsonValueKind.Array)
        {
            throw Malformed("has no 'outputs' array");
        }

        var rows = predictions.Length;
        predictions.Clear();
        var hasClassLabel = false;
        foreach (var output in _outputs)
        {
            var data = DataOf(outputs, output.Output.Name, rows * output.Width);
            var row = 0;
            foreach (var value in data.EnumerateArray())
            {
                ref var prediction = ref predictions[row / output.Width];
                switch (output.Output.Field)
                {
                    case PredictionFields.Label when IsMulticlass:
                        hasClassLabel = true;
                        prediction = value.ValueKind == JsonValueKind.String && Array.IndexOf(_classes, value.GetString()) >= 0
                            ? prediction with { Class = value.GetString() }
                            : prediction with { Problem = $"output '{output.Output.Name}' gave class {value}, which is not one of the card's classes ({string.Join(", ", _classes)})" };
                        break;
                    case PredictionFields.Label:
                        prediction = prediction with { Label = value.ValueKind == JsonValueKind.True ? true : value.ValueKind == JsonValueKind.False ? false : throw Malformed($"output '{output.Output.Name}' holds {value}, not a boolean") };
                        break;
                    case PredictionFields.Score:
                        prediction = prediction with { Score = NumberOf(output, value) };
                        break;
                    case PredictionFields.Probability:
                        prediction = prediction with { Probability = NumberOf(output, value) };
                        break;
                    case PredictionFields.Probabilities:
                        if (row % output.Width == 0)
                        {
                            prediction = prediction with { Probabilities = new float[output.Width] };
                        }

                        ((float[])prediction.Probabilities!)[row % output.Width] = NumberOf(output, value);
                        break;
                }

                row++;
            }
        }

        if (IsMulticlass && !hasClassLabel)
        {
            for (var row = 0; row < rows; row++)
            {
                if (predictions[row].Probabilities is float[] probabilities)
                {
                    predictions[row] = predictions[row] with { Class = _classes[ArgMax(probabilities)] };
                }
            }
        }
    }

    private JsonElement DataOf(JsonElement outputs, string name, int values)
    {
        foreach (var output in outputs.EnumerateArray())
        {
            if (output.ValueKind == JsonValueKind.Object
                && output.TryGetProperty("name"u8, out var outputName)
                && outputName.ValueEquals(name))
            {
                if (!output.TryGetProperty("data"u8, out var data) || data.ValueKind != JsonValueKind.Array)
                {
                    throw Malformed($"output '{name}' has no 'data' array");
                }

                var length = data.GetArrayLength();
                return length == values ? data : throw Malformed($"output '{name}' holds {length} value(s), the batch needs {values}");
            }
        }

        throw Malformed($"lacks output '{name}'");
    }

    private float NumberOf(BoundOutput output, JsonElement value) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetSingle(out var number)
            ? number
            : throw Malformed($"output '{output.Output.Name}' holds {value}, not a number");

    private ModelScoringException Malformed(string problem) =>
        new($"the model server at {_endpoint.BaseAddress} answered a batch, but its answer {problem}");

    private async Task DisposeServerAsync(IAsyncDisposable server)
    {
        try
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.RemoteServerDisposeFailed(_logger, Identity.Name, Identity.Version, ex);
        }
    }

    private static Dictionary<string, GraphTensor> AsGraph(IEnumerable<(string Name, string ElementType, IReadOnlyList<long> Shape)> tensors) =>
        tensors.ToDictionary(tensor => tensor.Name, tensor => new GraphTensor(tensor.Name, tensor.ElementType, tensor.Shape), StringComparer.Ordinal);

    private static string DigestOf(string onnxPath)
    {
        try
        {
            using var file = File.OpenRead(onnxPath);
            return ContentDigest.FromHash(SHA256.HashData(file));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException($"model file '{onnxPath}' cannot be read: {ex.Message}", ex);
        }
    }
}
