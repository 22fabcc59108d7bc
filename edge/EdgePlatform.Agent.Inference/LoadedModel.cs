using System.Security.Cryptography;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgePlatform.Agent.Inference;

/// <summary>
/// An ONNX model loaded into an ONNX Runtime session and checked against its card, ready to
/// score JSON events or pre-bound feature rows: the in-process <see cref="ScoringModel"/>.
/// </summary>
/// <remarks>
/// Not thread-safe: score from one thread at a time. Single events reuse one set of tensors,
/// so concurrent calls would overwrite each other's inputs; a concurrent call is refused with
/// an <see cref="InvalidOperationException"/> rather than allowed to corrupt a result.
/// Scale out by loading one instance per scoring thread.
/// </remarks>
public sealed class LoadedModel : ScoringModel
{
    private readonly InferenceSession _session;
    private readonly GraphBinding _binding;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly int _labelOutput;
    private readonly int _scoreOutput;
    private readonly int _probabilityOutput;

    // Multiclass only: the probabilities output (-1 when unbound), the card's classes and, for a
    // string label, their names, so a row's class is the card's own string.
    private readonly int _probabilitiesOutput;
    private readonly string[] _classes;
    private readonly Dictionary<string, string>? _classByName;
    private readonly TensorElementType _labelType;

    // Batch-of-one tensors, bound to the session once. The inputs are views over _row, so
    // binding an event writes the features straight into them, and a run through the I/O
    // binding marshals no names or handles: a single-event score allocates nothing of its own.
    private readonly float[] _row;
    private readonly string[] _strings;
    private readonly bool _hasStringInputs;

    // Null for a string input: string tensors live in native memory, so they are made per run from the string row.
    private readonly OrtValue?[] _rowInputs;
    // Null for a string output: ONNX Runtime allocates those itself on each run (see ReadClasses).
    private readonly OrtValue?[] _rowOutputs;
    private readonly OrtIoBinding _rowBinding;

    // Per batch size, made on first use (see BatchBindingFor).
    private BatchBinding?[] _batchBindings = new BatchBinding?[65];

    private int _scoring;

    private LoadedModel(ModelCard card, ModelIdentity identity, InferenceSession session, GraphBinding binding, ILogger logger, TimeProvider timeProvider)
        : base(card, identity, new EventBinder(binding.FeatureFields, binding.StringFields, binding.FieldsAcceptingMissing))
    {
        _session = session;
        _binding = binding;
        _logger = logger;
        _timeProvider = timeProvider;
        _inputNames = [.. binding.Inputs.Select(input => input.Name)];
        _outputNames = [.. binding.Outputs.Select(output => output.Name)];
        _labelOutput = IndexOfField(binding.Outputs, PredictionFields.Label);
        _scoreOutput = IndexOfField(binding.Outputs, PredictionFields.Score);
        _probabilityOutput = IndexOfField(binding.Outputs, PredictionFields.Probability);
        _probabilitiesOutput = IndexOfField(binding.Outputs, PredictionFields.Probabilities);
        _classes = IsMulticlass ? [.. card.Classes!] : [];
        _labelType = _labelOutput < 0 ? TensorElementType.Bool : binding.Outputs[_labelOutput].ElementType;
        _classByName = _labelType == TensorElementType.String ? _classes.ToDictionary(name => name, StringComparer.Ordinal) : null;

        _row = new float[binding.FeatureFields.Count];
        _strings = new string[binding.StringFields.Count];
        Array.Fill(_strings, string.Empty);
        _hasStringInputs = _strings.Length > 0;
        _rowInputs = [.. binding.Inputs.Select(input => input.IsString
            ? null
            : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _row.AsMemory(input.Offset, input.Width), [1, input.Width]))];
        _rowOutputs = [.. binding.Outputs.Select(output => output.ElementType == TensorElementType.String
            ? null
            : OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, output.ElementType, OutputShape(output, rows: 1)))];
        _rowBinding = session.CreateIoBinding();
        for (var i = 0; i < _rowInputs.Length; i++)
        {
            if (_rowInputs[i] is { } input)
            {
                _rowBinding.BindInput(_inputNames[i], input);
            }
        }

        BindOutputs(_rowBinding, _outputNames, _rowOutputs);
    }

    /// <inheritdoc cref="Load(ModelCard, string, OnnxModelSettings, ILogger, TimeProvider, string?)"/>
    public static LoadedModel Load(ModelCard card, string onnxPath, OnnxModelSettings settings) =>
        Load(card, onnxPath, settings, NullLogger.Instance, TimeProvider.System);

    /// <summary>
    /// Loads <paramref name="onnxPath"/> and checks <paramref name="card"/> against the graph:
    /// every card input and output must exist in the graph with the same element type and shape,
    /// and every graph input must be bound by the card.
    /// </summary>
    /// <remarks><c>manifestDigest</c> is the manifest digest of the package the model came from (<see cref="ModelIdentity.ManifestDigest"/>).</remarks>
    /// <exception cref="ModelLoadException">The file cannot be read or loaded, or the card does not describe the graph.</exception>
    public static LoadedModel Load(ModelCard card, string onnxPath, OnnxModelSettings settings, ILogger logger, TimeProvider timeProvider, string? manifestDigest = null)
    {
        ArgumentNullException.ThrowIfNull(card);
        ArgumentException.ThrowIfNullOrEmpty(onnxPath);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentOutOfRangeException.ThrowIfNegative(settings.IntraOpThreads);

        var started = timeProvider.GetTimestamp();
        var onnxDigest = ComputeDigest(onnxPath);
        var session = CreateSession(onnxPath, settings);
        try
        {
            var binding = GraphBinding.Create(card, session.InputMetadata, session.OutputMetadata);
            var identity = new ModelIdentity(card.Name, card.Version, onnxDigest) { ManifestDigest = manifestDigest };
            var model = new LoadedModel(card, identity, session, binding, logger, timeProvider);
            var elapsed = timeProvider.GetElapsedTime(started);
            Log.ModelLoaded(logger, card.Name, card.Version, onnxDigest, model.FeatureCount, elapsed.TotalMilliseconds);
            return model;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs one inference on zeros, so that the first real event does not pay for ONNX
    /// Runtime's lazy initialisation. Returns how long it took.
    /// </summary>
    public override TimeSpan Warm()
    {
        EnterScoring();
        try
        {
            var started = _timeProvider.GetTimestamp();
            Array.Clear(_row);
            Array.Fill(_strings, string.Empty);
            RunRow();
            var elapsed = _timeProvider.GetElapsedTime(started);
            Log.ModelWarmed(_logger, Identity.Name, Identity.Version, elapsed.TotalMilliseconds);
            return elapsed;
        }
        finally
        {
            ExitScoring();
        }
    }

    /// <inheritdoc/>
    public override ScoreResult Score(ReadOnlySpan<byte> jsonEvent)
    {
        EnterScoring();
        try
        {
            var started = _timeProvider.GetTimestamp();
            var correlationId = Binder.Bind(jsonEvent, _row, _strings);
            RunRow();
            var prediction = ReadPrediction(_rowOutputs, row: 0);
            if (IsMulticlass)
            {
                Span<RowPrediction> one = [prediction];
                ReadClasses(_rowOutputs, _rowBinding, one);
                prediction = one[0];
                if (prediction.Problem is { } problem)
                {
                    throw new ModelOutputException(problem);
                }
            }

            return new ScoreResult(
                Identity, correlationId, prediction.Label, prediction.Score, prediction.Probability, _timeProvider.GetElapsedTime(started))
            {
                Class = prediction.Class,
                Probabilities = prediction.Probabilities,
            };
        }
        finally
        {
            ExitScoring();
        }
    }

    /// <inheritdoc/>
    public override TimeSpan ScoreBatch(ReadOnlySpan<float> featureRows, ReadOnlySpan<string> stringRows, Span<RowPrediction> predictions)
    {
        var rows = predictions.Length;
        CheckBatch(featureRows, stringRows, rows);

        EnterScoring();
        try
        {
            var started = _timeProvider.GetTimestamp();
            if (rows == 1)
            {
                featureRows.CopyTo(_row);
                stringRows.CopyTo(_strings);
                RunRow();
                predictions[0] = ReadPrediction(_rowOutputs, row: 0);
                if (IsMulticlass)
                {
                    ReadClasses(_rowOutputs, _rowBinding, predictions);
                }
            }
            else if (rows > 1)
            {
                RunBatch(featureRows, stringRows, predictions);
            }

            return _timeProvider.GetElapsedTime(started);
        }
        finally
        {
            ExitScoring();
        }
    }

    protected override void Dispose(bool disposing)
    {
        _rowBinding.Dispose();
        foreach (var value in _rowInputs)
        {
            value?.Dispose();
        }

        foreach (var value in _rowOutputs)
        {
            value?.Dispose();
        }

        foreach (var batch in _batchBindings)
        {
            batch?.Dispose();
        }

        _runOptions.Dispose();
        _session.Dispose();
    }

    private void RunRow()
    {
        if (!_hasStringInputs)
        {
            _session.RunWithBinding(_runOptions, _rowBinding);
            return;
        }

        RunWithStrings(_rowBinding, _strings, rows: 1);
    }

    /// <summary>Binds each string input to a tensor made from <paramref name="stringRows"/> for this run only, then runs.</summary>
    private void RunWithStrings(OrtIoBinding binding, ReadOnlySpan<string> stringRows, int rows)
    {
        var made = new List<OrtValue>();
        try
        {
            var width = _strings.Length;
            foreach (var (input, i) in _binding.Inputs.Select((input, i) => (input, i)))
            {
                if (!input.IsString)
                {
                    continue;
                }

                var values = new string[rows];
                for (var row = 0; row < rows; row++)
                {
                    values[row] = stringRows[(row * width) + input.Offset];
                }

                var tensor = OrtValue.CreateFromStringTensor(new DenseTensor<string>(values, [rows, 1]));
                made.Add(tensor);
                binding.BindInput(_inputNames[i], tensor);
            }

            _session.RunWithBinding(_runOptions, binding);
        }
        finally
        {
            foreach (var value in made)
            {
                value.Dispose();
            }
        }
    }

    private void RunBatch(ReadOnlySpan<float> featureRows, ReadOnlySpan<string> stringRows, Span<RowPrediction> predictions)
    {
        var rows = predictions.Length;
        var batch = BatchBindingFor(rows);
        for (var i = 0; i < batch.Features.Length; i++)
        {
            var input = _binding.Inputs[i];
            if (input.IsString)
            {
                continue;
            }

            var tensor = batch.Features[i].AsSpan();
            if (input.Width == FeatureCount)
            {
                featureRows.CopyTo(tensor);
                continue;
            }

            for (var row = 0; row < rows; row++)
            {
                featureRows.Slice((row * FeatureCount) + input.Offset, input.Width).CopyTo(tensor.Slice(row * input.Width, input.Width));
            }
        }

        if (_hasStringInputs)
        {
            RunWithStrings(batch.Binding, stringRows, rows);
        }
        else
        {
            _session.RunWithBinding(_runOptions, batch.Binding);
        }

        // Each span is fetched once per batch: fetching one asks ONNX Runtime for the tensor's
        // type and shape, which costs more than reading all its rows.
        var labels = _labelOutput < 0 || IsMulticlass ? default : batch.Outputs[_labelOutput]!.GetTensorDataAsSpan<bool>();
        var scores = _scoreOutput < 0 ? default : batch.Outputs[_scoreOutput]!.GetTensorDataAsSpan<float>();
        var probabilities = _probabilityOutput < 0 ? default : batch.Outputs[_probabilityOutput]!.GetTensorDataAsSpan<float>();
        for (var row = 0; row < rows; row++)
        {
            predictions[row] = new RowPrediction(
                labels.IsEmpty ? null : labels[row],
                scores.IsEmpty ? null : scores[row],
                probabilities.IsEmpty ? null : probabilities[row]);
        }

        if (IsMulticlass)
        {
            ReadClasses(batch.Outputs, batch.Binding, predictions);
        }
    }

    /// <summary>
    /// Tensors and an I/O binding for batches of <paramref name="rows"/> rows, made on first use
    /// and kept: a micro-batcher sees a few dozen sizes at most, and reusing them makes a batch
    /// run allocate nothing, as a single-event run does.
    /// </summary>
    private BatchBinding BatchBindingFor(int rows)
    {
        if (rows < _batchBindings.Length && _batchBindings[rows] is { } cached)
        {
            return cached;
        }

        if (rows >= _batchBindings.Length)
        {
            Array.Resize(ref _batchBindings, Math.Max(rows + 1, _batchBindings.Length * 2));
        }

        var created = CreateBatchBinding(rows);
        _batchBindings[rows] = created;
        return created;
    }

    // Apart from BatchBindingFor because its lambdas capture rows: the closure they share is
    // allocated on entry to the method that declares what they capture, so in the lookup it
    // would cost every batch 32 bytes.
    private BatchBinding CreateBatchBinding(int rows)
    {
        var features = _binding.Inputs.Select(input => input.IsString ? [] : new float[rows * input.Width]).ToArray();
        var inputs = _binding.Inputs.Select((input, i) => input.IsString
            ? null
            : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, features[i].AsMemory(), [rows, input.Width])).ToArray();
        var outputs = _binding.Outputs.Select(output => output.ElementType == TensorElementType.String
            ? null
            : OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, output.ElementType, OutputShape(output, rows))).ToArray();
        var binding = _session.CreateIoBinding();
        for (var i = 0; i < inputs.Length; i++)
        {
            if (inputs[i] is { } input)
            {
                binding.BindInput(_inputNames[i], input);
            }
        }

        BindOutputs(binding, _outputNames, outputs);
        return new BatchBinding(features, inputs, outputs, binding);
    }

    private RowPrediction ReadPrediction(OrtValue?[] outputs, int row) => new(
        _labelOutput < 0 || IsMulticlass ? null : outputs[_labelOutput]!.GetTensorDataAsSpan<bool>()[row],
        _scoreOutput < 0 ? null : outputs[_scoreOutput]!.GetTensorDataAsSpan<float>()[row],
        _probabilityOutput < 0 ? null : outputs[_probabilityOutput]!.GetTensorDataAsSpan<float>()[row]);

    /// <summary>
    /// Adds each row's class and class probabilities to <paramref name="predictions"/>: the class is
    /// the label output's (a name, or an index into the card's classes), else the most probable
    /// one. A row whose label the card cannot read gets a <see cref="RowPrediction.Problem"/>.
    /// </summary>
    private void ReadClasses(OrtValue?[] outputs, OrtIoBinding binding, Span<RowPrediction> predictions)
    {
        var width = _classes.Length;
        var probabilities = _probabilitiesOutput < 0 ? default : outputs[_probabilitiesOutput]!.GetTensorDataAsSpan<float>();
        string[]? names = null;
        if (_labelType == TensorElementType.String)
        {
            // ONNX Runtime allocated the string output on this run; it is the label's position among the bound outputs.
            using var values = binding.GetOutputValues();
            names = values[_labelOutput].GetStringTensorAsArray();
        }

        var indices = _labelOutput >= 0 && _labelType == TensorElementType.Int64 ? outputs[_labelOutput]!.GetTensorDataAsSpan<long>() : default;
        for (var row = 0; row < predictions.Length; row++)
        {
            float[]? rowProbabilities = probabilities.IsEmpty ? null : probabilities.Slice(row * width, width).ToArray();
            string? name = null;
            string? problem = null;
            if (names is not null)
            {
                if (!_classByName!.TryGetValue(names[row], out name))
                {
                    problem = $"output '{_outputNames[_labelOutput]}' gave class '{names[row]}', which is not one of the card's classes ({string.Join(", ", _classes)})";
                }
            }
            else if (!indices.IsEmpty)
            {
                var index = indices[row];
                if (index >= 0 && index < width)
                {
                    name = _classes[index];
                }
                else
                {
                    problem = $"output '{_outputNames[_labelOutput]}' gave class index {index}, outside the card's {width} classes (0 to {width - 1})";
                }
            }
            else if (rowProbabilities is not null)
            {
                name = _classes[ArgMax(rowProbabilities)];
            }

            predictions[row] = predictions[row] with { Class = name, Probabilities = rowProbabilities, Problem = problem };
        }
    }

    private static void BindOutputs(OrtIoBinding binding, string[] names, OrtValue?[] outputs)
    {
        for (var i = 0; i < outputs.Length; i++)
        {
            if (outputs[i] is { } output)
            {
                binding.BindOutput(names[i], output);
            }
            else
            {
                binding.BindOutputToDevice(names[i], OrtMemoryInfo.DefaultInstance);
            }
        }
    }

    private void EnterScoring()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (Interlocked.Exchange(ref _scoring, 1) != 0)
        {
            throw new InvalidOperationException(
                $"model '{Identity.Name}' {Identity.Version} is already scoring on another thread; a LoadedModel serves one thread at a time");
        }
    }

    private void ExitScoring() => Volatile.Write(ref _scoring, 0);

    private static long[] OutputShape(OutputBinding output, int rows)
    {
        var shape = new long[output.Rank];
        Array.Fill(shape, 1);
        shape[0] = rows;
        if (output.Rank == 2)
        {
            shape[1] = output.Width;
        }

        return shape;
    }

    private static int IndexOfField(IReadOnlyList<OutputBinding> outputs, string field)
    {
        for (var i = 0; i < outputs.Count; i++)
        {
            if (outputs[i].Field == field)
            {
                return i;
            }
        }

        return -1;
    }

    private static string ComputeDigest(string onnxPath)
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

    private static InferenceSession CreateSession(string onnxPath, OnnxModelSettings settings)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = settings.IntraOpThreads,
            // Nodes run one after another: these graphs are small and the caller owns parallelism.
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            InterOpNumThreads = 1,
            GraphOptimizationLevel = settings.GraphOptimizationLevel,
            // Errors only: ONNX Runtime warns on stderr, outside the agent's log, about shapes it
            // merges leniently in ML.NET's one-hot exports; a graph that cannot load still throws.
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        try
        {
            return new InferenceSession(onnxPath, options);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new ModelLoadException($"model file '{onnxPath}' is not a loadable ONNX model: {ex.Message}", ex);
        }
    }
}

/// <summary>Reused tensors of one batch size: input buffers the rows are copied into, outputs ONNX Runtime writes, their binding.</summary>
internal sealed class BatchBinding(float[][] features, OrtValue?[] inputs, OrtValue?[] outputs, OrtIoBinding binding) : IDisposable
{
    public float[][] Features { get; } = features;

    public OrtValue?[] Outputs { get; } = outputs;

    public OrtIoBinding Binding { get; } = binding;

    public void Dispose()
    {
        Binding.Dispose();
        foreach (var value in inputs)
        {
            value?.Dispose();
        }

        foreach (var value in Outputs)
        {
            value?.Dispose();
        }
    }
}
