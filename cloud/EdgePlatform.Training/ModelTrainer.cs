using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Runtime.InteropServices;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Scoring;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Trainers.FastTree;
using Microsoft.ML.Trainers.LightGbm;

namespace EdgePlatform.Training;

/// <summary>
/// Trains a binary classifier on a <see cref="TabularDataset"/>, exports it to ONNX and
/// refuses the export unless ONNX Runtime reproduces ML.NET's predictions on held-out rows.
/// </summary>
public sealed partial class ModelTrainer
{
    private const string FeaturesColumn = FeaturePipeline.FeaturesColumn;

    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

    public ModelTrainer(TimeProvider timeProvider, ILogger<ModelTrainer>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _timeProvider = timeProvider;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>
    /// Runs the whole pipeline synchronously on the calling thread; it is CPU-bound, so a
    /// host that must stay responsive runs it on a worker. ML.NET 5 has no public way to
    /// interrupt a fit, so cancellation is observed between stages.
    /// </summary>
    /// <exception cref="UnsupportedTrainerException">The trainer is unknown or cannot load here.</exception>
    /// <exception cref="ParityException">The ONNX export does not reproduce ML.NET's predictions.</exception>
    public TrainedModel Train(TrainingSpec spec, TabularDataset data, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        Validate(spec, data);
        var recipe = TrainerRecipe.For(spec.Trainer, spec.Trees ?? TrainerRecipe.DefaultTrees, spec.Leaves ?? TrainerRecipe.DefaultLeaves);
        cancellationToken.ThrowIfCancellationRequested();
        var started = _timeProvider.GetTimestamp();

        var mlContext = new MLContext(spec.Seed);

        progress?.Report(new TrainingProgress(TrainingStage.Splitting, $"Holding out {spec.TestFraction:P0} of each class"));
        var (trainRows, testRows) = StratifiedSplit(data, spec.TestFraction, spec.Seed);
        LogTrainingStarted(_logger, spec.ModelName, spec.ModelVersion, spec.Trainer, trainRows.Length, testRows.Length, spec.TrainingRunId);

        progress?.Report(new TrainingProgress(TrainingStage.Fitting, $"Fitting {spec.Trainer} on {trainRows.Length} rows"));
        var (features, steps) = FeaturePipeline.Build(mlContext, spec, data);
        var pipeline = features.Append(recipe.Create(mlContext, spec.LabelColumn, spec.Seed));
        var model = Fit(pipeline, ColumnarDataView.FromRows(data, spec.FeatureColumns, trainRows, includeLabel: true), spec.Trainer);
        cancellationToken.ThrowIfCancellationRequested();

        progress?.Report(new TrainingProgress(TrainingStage.Evaluating, $"Evaluating on {testRows.Length} held-out rows"));
        var evaluation = mlContext.BinaryClassification.Evaluate(
            model.Transform(ColumnarDataView.FromRows(data, spec.FeatureColumns, testRows, includeLabel: true)),
            spec.LabelColumn);
        cancellationToken.ThrowIfCancellationRequested();

        progress?.Report(new TrainingProgress(TrainingStage.ExportingOnnx, "Exporting to ONNX"));
        var parityRows = testRows.Take(spec.ParityRows).ToArray();
        // Features only, with the outputs named: otherwise every column of the view, label
        // included, becomes a graph input and every intermediate column a graph output.
        var featuresOnly = ColumnarDataView.FromRows(data, spec.FeatureColumns, parityRows, includeLabel: false);
        var onnxModel = ExportOnnx(mlContext, model, featuresOnly);
        var (described, outputs) = OnnxGraph.DescribeBinaryClassifier(onnxModel, spec.FeatureColumns);
        var inputs = described
            .Select(input => input with
            {
                AcceptsMissing = input.ElementType == TensorElementTypes.String || steps[input.Field].Contains(FeatureTransforms.ReplaceMissing),
            })
            .ToArray();
        var card = new ModelCard(
            spec.ModelName,
            spec.ModelVersion,
            ModelTasks.BinaryClassification,
            inputs,
            outputs,
            new Dictionary<string, double>(),
            new ModelLineage(
                spec.TrainingRunId,
                spec.DatasetName,
                data.Digest,
                data.RowCount,
                spec.Trainer,
                recipe.Parameters(spec, steps, data.PositiveClass, trainRows.Length, testRows.Length),
                spec.CodeVersion),
            data.Profile(),
            _timeProvider.GetUtcNow());
        cancellationToken.ThrowIfCancellationRequested();

        progress?.Report(new TrainingProgress(TrainingStage.CheckingParity, $"Comparing ML.NET and ONNX Runtime on {parityRows.Length} held-out rows"));
        var (parity, parityMaxAbsDiff) = CheckParity(model, featuresOnly, data, parityRows, onnxModel, card, spec.ParityTolerance);

        card = card with
        {
            Parity = parity,
            Metrics = new Dictionary<string, double>
            {
                ["auc"] = evaluation.AreaUnderRocCurve,
                ["accuracy"] = evaluation.Accuracy,
                // Precision and F1 are undefined when nothing is predicted positive; 0 keeps
                // the card serializable (JSON has no NaN) and reads as the failure it is.
                ["f1"] = ZeroIfUndefined(evaluation.F1Score),
                ["precision"] = ZeroIfUndefined(evaluation.PositivePrecision),
                ["recall"] = ZeroIfUndefined(evaluation.PositiveRecall),
                ["parityMaxAbsDiff"] = parityMaxAbsDiff,
            },
        };

        byte[] mlNetModel;
        using (var stream = new MemoryStream())
        {
            mlContext.Model.Save(model, featuresOnly.Schema, stream);
            mlNetModel = stream.ToArray();
        }

        var elapsed = _timeProvider.GetElapsedTime(started);
        LogTrainingCompleted(_logger, spec.ModelName, spec.ModelVersion, (long)elapsed.TotalMilliseconds, evaluation.AreaUnderRocCurve, parityMaxAbsDiff);
        progress?.Report(new TrainingProgress(TrainingStage.Completed, string.Create(CultureInfo.InvariantCulture, $"AUC {evaluation.AreaUnderRocCurve:F4}, parity max abs diff {parityMaxAbsDiff:G3}")));
        return new TrainedModel(card, onnxModel, mlNetModel);
    }

    /// <summary>
    /// Holds out <paramref name="testFraction"/> of each class separately, so a dataset with few
    /// anomalies still has some in both halves; the seed makes the split reproducible.
    /// </summary>
    internal static (int[] Train, int[] Test) StratifiedSplit(TabularDataset data, double testFraction, int seed)
    {
        var random = new Random(seed);
        var train = new List<int>(data.RowCount);
        var test = new List<int>(data.RowCount);
        foreach (var label in new[] { true, false })
        {
            var rows = Enumerable.Range(0, data.RowCount).Where(r => data.GetLabel(r) == label).ToArray();
            if (rows.Length < 2)
            {
                throw new DatasetFormatException(
                    $"Only {rows.Length} row(s) have {data.LabelColumn} = {(label ? "true" : "false")}; each class needs at least 2 so that both the training and held-out rows contain it.",
                    null,
                    data.LabelColumn);
            }

            random.Shuffle(rows);
            var testCount = Math.Clamp((int)Math.Round(rows.Length * testFraction), 1, rows.Length - 1);
            test.AddRange(rows.AsSpan(0, testCount));
            train.AddRange(rows.AsSpan(testCount));
        }

        // Interleave the classes in the held-out rows, so the first ParityRows of them are a fair sample.
        var testRows = test.ToArray();
        random.Shuffle(testRows);
        train.Sort();
        return ([.. train], testRows);
    }

    private static void Validate(TrainingSpec spec, TabularDataset data)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrWhiteSpace(spec.ModelName);
        ArgumentException.ThrowIfNullOrWhiteSpace(spec.ModelVersion);
        ArgumentException.ThrowIfNullOrWhiteSpace(spec.TrainingRunId);
        ArgumentException.ThrowIfNullOrWhiteSpace(spec.DatasetName);
        ArgumentException.ThrowIfNullOrWhiteSpace(spec.CodeVersion);
        try
        {
            Validator.ValidateObject(spec, new ValidationContext(spec), validateAllProperties: true);
        }
        catch (ValidationException ex)
        {
            throw new ArgumentException($"Invalid training spec: {ex.Message}", nameof(spec), ex);
        }

        if (spec.ParityTolerance is not { Absolute: >= 0 and <= 1, Relative: >= 0 and <= 1 })
        {
            throw new ArgumentException($"Invalid training spec: the parity tolerance's absolute and relative parts must each be between 0 and 1; it is {spec.ParityTolerance}.", nameof(spec));
        }

        if (spec.LabelColumn != data.LabelColumn)
        {
            throw new ArgumentException($"The spec's label column '{spec.LabelColumn}' is not the dataset's label column '{data.LabelColumn}'.", nameof(spec));
        }

        if (spec.FeatureColumns.Count == 0 || spec.FeatureColumns.Distinct(StringComparer.Ordinal).Count() != spec.FeatureColumns.Count)
        {
            throw new ArgumentException($"The spec needs at least one feature column, each listed once; it lists: {string.Join(", ", spec.FeatureColumns)}.", nameof(spec));
        }

        var unknown = spec.FeatureColumns.Where(f => !data.FeatureColumns.Contains(f, StringComparer.Ordinal)).ToArray();
        if (unknown.Length > 0)
        {
            throw new ArgumentException(
                $"The spec's feature column(s) {string.Join(", ", unknown)} were not loaded with the dataset, which has: {string.Join(", ", data.FeatureColumns)}.", nameof(spec));
        }

        // Transforms are checked before any fitting, so a spec that cannot export is refused with its reason, not after minutes of training.
        FeaturePipeline.Validate(spec, spec.FeatureColumns.ToDictionary(f => f, f => data.FeatureKinds[data.IndexOfFeature(f)], StringComparer.Ordinal));
        foreach (var column in spec.FeatureColumns)
        {
            var index = data.IndexOfFeature(column);
            FeaturePipeline.Resolve(spec, column, data.FeatureKinds[index], data.MissingCount(index) > 0);
        }
    }

    private static TransformerChain<ITransformer> Fit(EstimatorChain<ITransformer> pipeline, IDataView trainingData, string trainer)
    {
        try
        {
            return pipeline.Fit(trainingData);
        }
        catch (Exception ex) when (IsNativeLoadFailure(ex))
        {
            throw new UnsupportedTrainerException(
                trainer,
                $"Trainer '{trainer}' cannot run on this machine: its native library failed to load ({ex.GetBaseException().Message}). Use one of: {string.Join(", ", TrainerNames.All.Where(t => t != trainer))}.",
                ex);
        }
    }

    private static bool IsNativeLoadFailure(Exception ex)
    {
        for (var e = (Exception?)ex; e is not null; e = e.InnerException)
        {
            if (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or MarshalDirectiveException)
            {
                return true;
            }
        }

        return false;
    }

    internal static byte[] ExportOnnx(MLContext mlContext, ITransformer model, IDataView featuresOnly)
    {
        using var stream = new MemoryStream();
        mlContext.Model.ConvertToOnnx(model, featuresOnly, stream, [.. OnnxGraph.BinaryOutputs.Select(o => o.Column)]);
        return stream.ToArray();
    }

    /// <summary>
    /// Scores the held-out rows with ML.NET and with ONNX Runtime through the card's bindings
    /// (the device's path) and holds every score and probability to <paramref name="tolerance"/>.
    /// Returns the report the card records and the largest absolute difference seen.
    /// </summary>
    /// <exception cref="ParityException">A value is outside its allowance, or a label differs where the scores do not explain it.</exception>
    internal static (ParityReport Report, double MaxAbsDiff) CheckParity(
        ITransformer model, IDataView featuresOnly, TabularDataset data, int[] rows, byte[] onnxModel, ModelCard card, ParityTolerance tolerance)
    {
        var expected = MlNetScorer.Read(model.Transform(featuresOnly));
        IReadOnlyList<BinaryPrediction> actual;
        using (var scorer = new OnnxScorer(onnxModel, card))
        {
            actual = scorer.Predict([.. rows.Select(data.GetFeatures)], [.. rows.Select(data.GetStrings)]);
        }

        ParityRow? worst = null;
        var worstShare = -1.0;
        var maxAbsDiff = 0.0;
        for (var i = 0; i < rows.Length; i++)
        {
            var line = data.GetLineNumber(rows[i]);
            foreach (var (output, trained, onnx) in new[]
            {
                (PredictionFields.Score, (double)expected[i].Score, (double)actual[i].Score),
                (PredictionFields.Probability, (double)expected[i].Probability, (double)actual[i].Probability),
            })
            {
                // NaN compares false with everything, so it would otherwise pass as "no difference".
                var diff = double.IsNaN(trained) || double.IsNaN(onnx) ? double.PositiveInfinity : Math.Abs(trained - onnx);
                var allowed = tolerance.Allowed(trained, onnx);
                var share = allowed > 0 ? diff / allowed : diff > 0 ? double.PositiveInfinity : 0;
                maxAbsDiff = Math.Max(maxAbsDiff, diff);
                if (share > worstShare)
                {
                    worstShare = share;
                    worst = new ParityRow(output, line, trained, onnx, diff, allowed);
                }
            }

            // The label is the score's sign: a flip with scores inside their allowance is rounding
            // at the threshold, not a different graph, and the score check above judges the rest.
            if (expected[i].Label != actual[i].Label && !(tolerance.Allowed(expected[i].Score, actual[i].Score) >= Math.Abs((double)expected[i].Score - actual[i].Score)))
            {
                throw new ParityException(
                    $"ONNX Runtime predicts {PredictionFields.Label} = {actual[i].Label} but ML.NET predicts {expected[i].Label} for the row on CSV line {line} (scores {actual[i].Score:G9} and {expected[i].Score:G9}); the exported graph does not reproduce the model.",
                    PredictionFields.Label,
                    line,
                    expected[i].Label ? 1 : 0,
                    actual[i].Label ? 1 : 0);
            }
        }

        if (worst is not null && !(worst.Difference <= worst.Allowed))
        {
            throw new ParityException(
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"ONNX Runtime and ML.NET differ by {worst.Difference:G3} on {worst.Output} for the row on CSV line {worst.Line} (ML.NET {worst.Trained:G9}, ONNX Runtime {worst.OnnxRuntime:G9}), above the tolerance of {worst.Allowed:G3} there ({tolerance}); the exported graph does not reproduce the model."),
                worst.Output,
                worst.Line,
                worst.Trained,
                worst.OnnxRuntime);
        }

        return (new ParityReport(ParityTolerance.Rule, tolerance.Absolute, tolerance.Relative, rows.Length, worst), maxAbsDiff);
    }

    private static double ZeroIfUndefined(double value) => double.IsNaN(value) ? 0 : value;

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Training {ModelName} {ModelVersion} with {Trainer} on {TrainRows} rows, {TestRows} held out (run {TrainingRunId})")]
    private static partial void LogTrainingStarted(ILogger logger, string modelName, string modelVersion, string trainer, int trainRows, int testRows, string trainingRunId);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Information, Message = "Trained {ModelName} {ModelVersion} in {ElapsedMs} ms: AUC {Auc:F4}, parity max abs diff {ParityMaxAbsDiff:G3}")]
    private static partial void LogTrainingCompleted(ILogger logger, string modelName, string modelVersion, long elapsedMs, double auc, double parityMaxAbsDiff);

    /// <summary>The estimator for one trainer name, and the hyperparameters lineage records for it.</summary>
    private sealed record TrainerRecipe(
        Func<MLContext, string, int, IEstimator<ITransformer>> Create,
        IReadOnlyDictionary<string, string> HyperParameters)
    {
        // Moderate sizes by default: the datasets are thousands of rows, and training runs on small build agents.
        public const int DefaultTrees = 100;
        public const int DefaultLeaves = 20;
        private const int MinimumExampleCountPerLeaf = 10;
        private const float FastTreeLearningRate = 0.2f;
        private const float LightGbmLearningRate = 0.1f;
        private const float L1Regularization = 0.01f;
        private const float L2Regularization = 0.1f;

        public static TrainerRecipe For(string trainer, int trees, int leaves) => trainer switch
        {
            TrainerNames.FastTree => new(
                (ml, label, seed) => ml.BinaryClassification.Trainers.FastTree(new FastTreeBinaryTrainer.Options
                {
                    LabelColumnName = label,
                    FeatureColumnName = FeaturesColumn,
                    NumberOfTrees = trees,
                    NumberOfLeaves = leaves,
                    MinimumExampleCountPerLeaf = MinimumExampleCountPerLeaf,
                    LearningRate = FastTreeLearningRate,
                    Seed = seed,
                }),
                Parameters(("trees", trees), ("leaves", leaves), ("minimumExampleCountPerLeaf", MinimumExampleCountPerLeaf), ("learningRate", FastTreeLearningRate))),
            TrainerNames.LightGbm => new(
                (ml, label, seed) => ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
                {
                    LabelColumnName = label,
                    FeatureColumnName = FeaturesColumn,
                    NumberOfIterations = trees,
                    NumberOfLeaves = leaves,
                    MinimumExampleCountPerLeaf = MinimumExampleCountPerLeaf,
                    LearningRate = LightGbmLearningRate,
                    Seed = seed,
                    // LightGBM is only reproducible single-threaded with its deterministic mode on.
                    Deterministic = true,
                    NumberOfThreads = 1,
                }),
                Parameters(("iterations", trees), ("leaves", leaves), ("minimumExampleCountPerLeaf", MinimumExampleCountPerLeaf), ("learningRate", LightGbmLearningRate))),
            TrainerNames.LogisticRegression => new(
                (ml, label, _) => ml.BinaryClassification.Trainers.LbfgsLogisticRegression(new LbfgsLogisticRegressionBinaryTrainer.Options
                {
                    LabelColumnName = label,
                    FeatureColumnName = FeaturesColumn,
                    L1Regularization = L1Regularization,
                    L2Regularization = L2Regularization,
                    // Parallel gradient sums add in a varying order; one thread keeps reruns identical.
                    NumberOfThreads = 1,
                }),
                Parameters(("l1Regularization", L1Regularization), ("l2Regularization", L2Regularization))),
            _ => throw new UnsupportedTrainerException(
                trainer,
                $"Unknown trainer '{trainer}'; valid trainers are: {string.Join(", ", TrainerNames.All)}."),
        };

        public Dictionary<string, string> Parameters(TrainingSpec spec, IReadOnlyDictionary<string, IReadOnlyList<string>> steps, string? positiveClass, int trainRows, int testRows)
        {
            var perColumn = steps.Values.Any(s => s.Any(FeatureTransforms.IsNormalizer));
            var parameters = new Dictionary<string, string>(HyperParameters, StringComparer.Ordinal)
            {
                ["seed"] = Invariant(spec.Seed),
                ["testFraction"] = Invariant(spec.TestFraction),
                ["split"] = "stratified",
                ["normalization"] = perColumn ? "per-column" : "min-max",
                ["trainRows"] = Invariant(trainRows),
                ["testRows"] = Invariant(testRows),
                ["parityTolerance"] = Invariant(spec.ParityTolerance.Absolute),
                ["parityRelativeTolerance"] = Invariant(spec.ParityTolerance.Relative),
            };
            var transformed = steps.Where(s => s.Value.Count > 0).Select(s => $"{s.Key}: {string.Join(" + ", s.Value)}").ToArray();
            if (transformed.Length > 0)
            {
                parameters["transforms"] = string.Join("; ", transformed);
            }

            if (steps.Values.Any(s => s.Contains(FeatureTransforms.OneHotHash)))
            {
                parameters["hashBits"] = Invariant(spec.HashBits);
            }

            if (positiveClass is not null)
            {
                parameters["positiveClass"] = positiveClass;
            }

            return parameters;
        }

        private static Dictionary<string, string> Parameters(params (string Name, object Value)[] values) =>
            values.ToDictionary(v => v.Name, v => Invariant(v.Value), StringComparer.Ordinal);

        private static string Invariant(object value) => Convert.ToString(value, CultureInfo.InvariantCulture)!;
    }
}
