using System.Text.Json;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Http;

/// <summary>
/// The Open Inference Protocol (KServe v2) for local apps: <c>POST /v2/models/{name}/infer</c>
/// scores rows through the same engine, batches and arms as broker events; metadata and
/// readiness describe the active control model.
/// </summary>
public static class InferenceProtocolApi
{
    private static readonly InferenceProtocolJsonContext Json = InferenceProtocolJsonContext.Default;

    public static IEndpointRouteBuilder MapInferenceProtocolApi(this IEndpointRouteBuilder routes)
    {
        var v2 = routes.MapGroup("/v2").AddEndpointFilter(RequireBearerTokenAsync);
        v2.MapGet(string.Empty, () => Results.Json(new InferServerMetadata("edgeplatform-agent", typeof(InferenceProtocolApi).Assembly.GetName().Version?.ToString() ?? "0", []), Json.InferServerMetadata));
        v2.MapGet("/health/live", () => Results.Ok());
        v2.MapGet("/health/ready", (InferenceEngine engine) => engine.Control.Active is null ? Results.StatusCode(StatusCodes.Status503ServiceUnavailable) : Results.Ok());
        v2.MapGet("/models/{name}", (string name, InferenceEngine engine) => Metadata(engine, name, null));
        v2.MapGet("/models/{name}/versions/{version}", (string name, string version, InferenceEngine engine) => Metadata(engine, name, version));
        v2.MapGet("/models/{name}/ready", (string name, InferenceEngine engine) => Ready(engine, name, null));
        v2.MapGet("/models/{name}/versions/{version}/ready", (string name, string version, InferenceEngine engine) => Ready(engine, name, version));
        v2.MapPost("/models/{name}/infer", (string name, HttpContext context, InferenceEngine engine, IOptions<InferenceHttpOptions> options) =>
            InferAsync(name, null, context, engine, options.Value));
        v2.MapPost("/models/{name}/versions/{version}/infer", (string name, string version, HttpContext context, InferenceEngine engine, IOptions<InferenceHttpOptions> options) =>
            InferAsync(name, version, context, engine, options.Value));
        return routes;
    }

    /// <summary>With <see cref="InferenceHttpOptions.BearerTokenFile"/> set, every route needs its token, health included.</summary>
    private static async ValueTask<object?> RequireBearerTokenAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (http.RequestServices.GetRequiredService<InferenceBearerToken>().Admits(http.Request.Headers.Authorization))
        {
            return await next(context).ConfigureAwait(false);
        }

        http.Response.Headers.WWWAuthenticate = "Bearer realm=\"edgeplatform-agent\"";
        return Error(StatusCodes.Status401Unauthorized, "this endpoint needs the token of InferenceHttp:BearerTokenFile as 'Authorization: Bearer <token>'");
    }

    private static IResult Metadata(InferenceEngine engine, string name, string? version)
    {
        if (Resolve(engine, name, version, out var card) is { } problem)
        {
            return problem;
        }

        return Results.Json(
            new InferModelMetadata(
                card.Name,
                [card.Version],
                InferenceProtocol.OnnxPlatform,
                [.. card.Inputs.Select(input => new InferTensorMetadata(input.Name, DatatypeOf(input.ElementType), input.Shape))],
                [.. card.Outputs.Select(output => new InferTensorMetadata(output.Name, DatatypeOf(output.ElementType), output.Shape))]),
            Json.InferModelMetadata);
    }

    private static IResult Ready(InferenceEngine engine, string name, string? version) =>
        Resolve(engine, name, version, out _) is { } problem ? problem : Results.Ok();

    private static async Task<IResult> InferAsync(string name, string? version, HttpContext context, InferenceEngine engine, InferenceHttpOptions options)
    {
        if (Resolve(engine, name, version, out var card) is { } problem)
        {
            return problem;
        }

        InferRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync(context.Request.Body, Json.InferRequest, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            return Error(StatusCodes.Status400BadRequest, $"request body is not an inference request: {ex.Message}");
        }

        if (request?.Inputs is not { Count: > 0 })
        {
            return Error(StatusCodes.Status400BadRequest, "request has no inputs");
        }

        if (InferRows.From(request, card, out var error) is not { } rows)
        {
            return Error(StatusCodes.Status400BadRequest, error!);
        }

        var pending = new PendingRequest(rows.RowCount);
        for (var row = 0; row < rows.RowCount; row++)
        {
            if (!engine.TryEnqueue(InferenceEvent.FromRow(rows, row, pending)))
            {
                return Error(StatusCodes.Status503ServiceUnavailable, "the inference queue is full; retry later");
            }
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.RequestTimeoutSeconds));
        try
        {
            await pending.Completed.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            return Error(StatusCodes.Status504GatewayTimeout, $"rows were not scored within {options.RequestTimeoutSeconds} s");
        }

        if (pending.Failure is { } failure)
        {
            return Error(failure.Outcome == EventOutcome.BindingFailed ? StatusCodes.Status400BadRequest : StatusCodes.Status503ServiceUnavailable, failure.Reason);
        }

        return Results.Json(pending.ToResponse(card, request), Json.InferResponse);
    }

    private static IResult? Resolve(InferenceEngine engine, string name, string? version, out ModelCard card)
    {
        card = engine.Control.ActiveCard!;
        if (card is null)
        {
            return Error(StatusCodes.Status503ServiceUnavailable, "no model is active on this device yet");
        }

        if (!string.Equals(card.Name, name, StringComparison.Ordinal))
        {
            return Error(StatusCodes.Status404NotFound, $"model '{name}' is not served here; the active model is '{card.Name}'");
        }

        if (version is not null && !string.Equals(card.Version, version, StringComparison.Ordinal))
        {
            return Error(StatusCodes.Status404NotFound, $"version '{version}' of '{name}' is not active; the active version is '{card.Version}'");
        }

        return null;
    }

    private static string DatatypeOf(string elementType) => elementType switch
    {
        TensorElementTypes.Float32 => InferenceProtocol.Float32,
        TensorElementTypes.Float64 => InferenceProtocol.Float64,
        TensorElementTypes.Int64 => InferenceProtocol.Int64,
        TensorElementTypes.Bool => InferenceProtocol.Bool,
        _ => elementType.ToUpperInvariant(),
    };

    private static IResult Error(int status, string message) => Results.Json(new InferError(message), Json.InferError, statusCode: status);

    /// <summary>Collects the outcome of every row of one request; completes when the last row has one.</summary>
    private sealed class PendingRequest(int rowCount) : IInferenceSink
    {
        private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly RowPrediction[] _predictions = new RowPrediction[rowCount];
        private ModelIdentity? _model;
        private int _pending = rowCount;

        public Task Completed => _completed.Task;

        public (EventOutcome Outcome, string Reason)? Failure { get; private set; }

        public void OnScored(in InferenceEvent inferenceEvent, in ScoredEvent scored)
        {
            _predictions[inferenceEvent.Row] = scored.Prediction;
            _model ??= scored.Model;
            Done();
        }

        public void OnFailed(in InferenceEvent inferenceEvent, EventOutcome outcome, string reason)
        {
            Failure ??= (outcome, _predictions.Length == 1 ? reason : $"row {inferenceEvent.Row}: {reason}");
            Done();
        }

        public InferResponse ToResponse(ModelCard card, InferRequest request)
        {
            var wanted = request.Outputs?.Select(output => output.Name).ToHashSet(StringComparer.Ordinal);
            var outputs = new List<InferTensor>();
            foreach (var output in card.Outputs)
            {
                if (wanted is not null && !wanted.Contains(output.Name))
                {
                    continue;
                }

                var tensor = output.Field switch
                {
                    PredictionFields.Label when card.Classes is not null && string.Equals(card.Task, ModelTasks.MulticlassClassification, StringComparison.Ordinal) =>
                        new InferTensor(output.Name, [_predictions.Length], InferenceProtocol.Bytes,
                            JsonSerializer.SerializeToElement(_predictions.Select(p => p.Class ?? string.Empty).ToArray(), Json.StringArray)),
                    PredictionFields.Probabilities => new InferTensor(output.Name, [_predictions.Length, card.Classes?.Count ?? 0], InferenceProtocol.Float32,
                        JsonSerializer.SerializeToElement(_predictions.SelectMany(p => p.Probabilities ?? []).ToArray(), Json.SingleArray)),
                    PredictionFields.Label => new InferTensor(output.Name, [_predictions.Length], InferenceProtocol.Bool,
                        JsonSerializer.SerializeToElement(_predictions.Select(p => p.Label ?? false).ToArray(), Json.BooleanArray)),
                    PredictionFields.Score => new InferTensor(output.Name, [_predictions.Length], InferenceProtocol.Float32,
                        JsonSerializer.SerializeToElement(_predictions.Select(p => p.Score ?? float.NaN).ToArray(), Json.SingleArray)),
                    _ => new InferTensor(output.Name, [_predictions.Length], InferenceProtocol.Float32,
                        JsonSerializer.SerializeToElement(_predictions.Select(p => p.Probability ?? float.NaN).ToArray(), Json.SingleArray)),
                };
                outputs.Add(tensor);
            }

            var model = _model ?? new ModelIdentity(card.Name, card.Version, string.Empty);
            return new InferResponse(model.Name, model.Version, request.Id, outputs);
        }

        private void Done()
        {
            if (Interlocked.Decrement(ref _pending) == 0)
            {
                _completed.TrySetResult();
            }
        }
    }
}
