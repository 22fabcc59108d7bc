using System.Globalization;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Scoring;
using Microsoft.ML;

namespace EdgePlatform.Training.Sweeps;

/// <summary>Fits the winning trial's pipeline on all the rows, exports it to ONNX, checks parity and writes its card.</summary>
public static class SweepRefit
{
    /// <summary>Rows the parity check compares, sampled from all the rows by the trial's seed.</summary>
    public const int ParityRows = 500;

    /// <summary>
    /// Refits <paramref name="best"/> at full fidelity on every row, exports the pipeline (feature
    /// transforms included) to ONNX with the card's outputs for the task, and refuses the export
    /// unless ONNX Runtime reproduces ML.NET on sampled rows within <see cref="ParityTolerance.Default"/>.
    /// The card's metrics are the trial's validated ones (<paramref name="validated"/>, else the
    /// trial is scored again at full fidelity).
    /// </summary>
    /// <exception cref="ParityException">The ONNX export does not reproduce ML.NET's predictions.</exception>
    public static TrainedModel Refit(
        SweepProblem problem,
        TrialSpec best,
        ModelSearchSummary summary,
        TabularDataset data,
        string modelName,
        string modelVersion,
        string runId,
        string codeVersion,
        TimeProvider timeProvider,
        TrialOutcome? validated = null)
    {
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(best);
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelName);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelVersion);
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        ArgumentException.ThrowIfNullOrWhiteSpace(codeVersion);
        ArgumentNullException.ThrowIfNull(timeProvider);

        var full = best with { Fidelity = 1 };
        validated ??= TrialRunner.Run(problem, full, data);
        var trainer = SweepTrainers.Get(problem.Task, full.Trainer);
        var ml = new MLContext(full.Seed);
        var estimator = TrialRunner.Pipeline(ml, problem, full, data, 1);
        if (problem.Task == ModelTasks.MulticlassClassification)
        {
            // The graph's label output is the class name, not ML.NET's key index.
            estimator = estimator.Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        }

        var allRows = Enumerable.Range(0, data.RowCount).ToArray();
        var model = estimator.Fit(ColumnarDataView.FromRows(data, problem.FeatureColumns, allRows, includeLabel: true));

        var parityRows = (int[])allRows.Clone();
        new Random(full.Seed).Shuffle(parityRows);
        parityRows = parityRows[..Math.Min(ParityRows, parityRows.Length)];
        var featuresOnly = ColumnarDataView.FromRows(data, problem.FeatureColumns, parityRows, includeLabel: false);
        var bindings = OnnxGraph.OutputsFor(problem.Task);
        byte[] onnxModel;
        using (var stream = new MemoryStream())
        {
            ml.Model.ConvertToOnnx(model, featuresOnly, stream, [.. bindings.Select(b => b.Column)]);
            onnxModel = stream.ToArray();
        }

        var spec = problem.FeatureSpec(modelName, modelVersion, runId, codeVersion);
        var (_, steps) = FeaturePipeline.Build(new MLContext(full.Seed), spec, data);
        var (described, outputs) = OnnxGraph.Describe(onnxModel, problem.FeatureColumns, bindings);
        var inputs = described
            .Select(input => input with
            {
                AcceptsMissing = input.ElementType == TensorElementTypes.String || steps[input.Field].Contains(FeatureTransforms.ReplaceMissing),
            })
            .ToArray();
        var tolerance = ParityTolerance.Default;
        var card = new ModelCard(
            modelName,
            modelVersion,
            problem.Task,
            inputs,
            outputs,
            new Dictionary<string, double>(),
            new ModelLineage(runId, problem.Spec.Dataset ?? "local", data.Digest, data.RowCount, trainer.Name, Lineage(problem, full, trainer, steps, data, tolerance), codeVersion),
            data.Profile(),
            timeProvider.GetUtcNow())
        {
            Classes = problem.Task == ModelTasks.MulticlassClassification ? data.Classes : null,
            Search = summary,
        };

        var (parity, maxAbsDiff) = problem.Task switch
        {
            ModelTasks.MulticlassClassification => CheckMulticlassParity(model, featuresOnly, data, parityRows, onnxModel, card, tolerance),
            ModelTasks.Regression => CheckRegressionParity(model, featuresOnly, data, parityRows, onnxModel, card, tolerance),
            _ => ModelTrainer.CheckParity(model, featuresOnly, data, parityRows, onnxModel, card, tolerance),
        };

        var metrics = new Dictionary<string, double>(validated.Metrics, StringComparer.Ordinal) { ["parityMaxAbsDiff"] = maxAbsDiff };
        card = card with { Parity = parity, Metrics = metrics };

        byte[] mlNetModel;
        using (var stream = new MemoryStream())
        {
            ml.Model.Save(model, featuresOnly.Schema, stream);
            mlNetModel = stream.ToArray();
        }

        return new TrainedModel(card, onnxModel, mlNetModel);
    }

    private static Dictionary<string, string> Lineage(
        SweepProblem problem, TrialSpec trial, SweepTrainer trainer, IReadOnlyDictionary<string, IReadOnlyList<string>> steps, TabularDataset data, ParityTolerance tolerance)
    {
        var parameters = trainer.Space.ToDictionary(p => p.Name, p => p.Format(trial.Parameters[p.Name]), StringComparer.Ordinal);
        parameters["seed"] = trial.Seed.ToString(CultureInfo.InvariantCulture);
        parameters["validation"] = problem.Validation;
        parameters["metric"] = problem.Metric;
        parameters["trainRows"] = data.RowCount.ToString(CultureInfo.InvariantCulture);
        parameters["parityTolerance"] = tolerance.Absolute.ToString("R", CultureInfo.InvariantCulture);
        parameters["parityRelativeTolerance"] = tolerance.Relative.ToString("R", CultureInfo.InvariantCulture);
        if (trainer.NeedsCalibration)
        {
            parameters["calibration"] = "platt";
        }

        var transformed = steps.Where(s => s.Value.Count > 0).Select(s => $"{s.Key}: {string.Join(" + ", s.Value)}").ToArray();
        if (transformed.Length > 0)
        {
            parameters["transforms"] = string.Join("; ", transformed);
        }

        if (data.PositiveClass is { } positive)
        {
            parameters["positiveClass"] = positive;
        }

        return parameters;
    }

    private static (ParityReport, double) CheckMulticlassParity(
        ITransformer model, IDataView featuresOnly, TabularDataset data, int[] rows, byte[] onnxModel, ModelCard card, ParityTolerance tolerance)
    {
        var expected = MlNetScorer.ReadMulticlass(model.Transform(featuresOnly));
        IReadOnlyList<MulticlassPrediction> actual;
        using (var scorer = new OnnxScorer(onnxModel, card))
        {
            actual = scorer.PredictMulticlass([.. rows.Select(data.GetFeatures)], [.. rows.Select(data.GetStrings)]);
        }

        var classes = card.Classes!;
        var check = new ParityCheck(tolerance);
        for (var i = 0; i < rows.Length; i++)
        {
            var line = data.GetLineNumber(rows[i]);
            for (var c = 0; c < classes.Count; c++)
            {
                check.Compare($"{PredictionFields.Probabilities}[{classes[c]}]", line, expected[i].Probabilities[c], actual[i].Probabilities[c]);
            }

            if (expected[i].Label != actual[i].Label)
            {
                // A different class is only rounding when the two classes' probabilities tie within the allowance.
                var e = expected[i].Probabilities;
                var trained = e[IndexOf(classes, expected[i].Label)];
                var other = e[IndexOf(classes, actual[i].Label)];
                if (!(Math.Abs(trained - other) <= tolerance.Allowed(trained, other)))
                {
                    throw new ParityException(
                        $"ONNX Runtime predicts {PredictionFields.Label} = {actual[i].Label} but ML.NET predicts {expected[i].Label} for the row on line {line}; the exported graph does not reproduce the model.",
                        PredictionFields.Label,
                        line,
                        IndexOf(classes, expected[i].Label),
                        IndexOf(classes, actual[i].Label));
                }
            }
        }

        return check.Finish(rows.Length);
    }

    private static (ParityReport, double) CheckRegressionParity(
        ITransformer model, IDataView featuresOnly, TabularDataset data, int[] rows, byte[] onnxModel, ModelCard card, ParityTolerance tolerance)
    {
        var expected = MlNetScorer.ReadRegression(model.Transform(featuresOnly));
        IReadOnlyList<float> actual;
        using (var scorer = new OnnxScorer(onnxModel, card))
        {
            actual = scorer.PredictRegression([.. rows.Select(data.GetFeatures)], [.. rows.Select(data.GetStrings)]);
        }

        var check = new ParityCheck(tolerance);
        for (var i = 0; i < rows.Length; i++)
        {
            check.Compare(PredictionFields.Score, data.GetLineNumber(rows[i]), expected[i], actual[i]);
        }

        return check.Finish(rows.Length);
    }

    private static int IndexOf(IReadOnlyList<string> classes, string name)
    {
        for (var i = 0; i < classes.Count; i++)
        {
            if (classes[i] == name)
            {
                return i;
            }
        }

        throw new ParityException($"The model predicted '{name}', which is not one of its classes ({string.Join(", ", classes)}).");
    }

    /// <summary>Holds every compared value to the tolerance and remembers the row closest to (or furthest past) its allowance.</summary>
    private sealed class ParityCheck(ParityTolerance tolerance)
    {
        private ParityRow? _worst;
        private double _worstShare = -1;
        private double _maxAbsDiff;

        public void Compare(string output, int line, double trained, double onnx)
        {
            // NaN compares false with everything, so it would otherwise pass as "no difference".
            var diff = double.IsNaN(trained) || double.IsNaN(onnx) ? double.PositiveInfinity : Math.Abs(trained - onnx);
            var allowed = tolerance.Allowed(trained, onnx);
            var share = allowed > 0 ? diff / allowed : diff > 0 ? double.PositiveInfinity : 0;
            _maxAbsDiff = Math.Max(_maxAbsDiff, diff);
            if (share > _worstShare)
            {
                _worstShare = share;
                _worst = new ParityRow(output, line, trained, onnx, diff, allowed);
            }
        }

        public (ParityReport, double) Finish(int rows)
        {
            if (_worst is { } worst && !(worst.Difference <= worst.Allowed))
            {
                throw new ParityException(
                    string.Create(
                        CultureInfo.InvariantCulture,
                        $"ONNX Runtime and ML.NET differ by {worst.Difference:G3} on {worst.Output} for the row on line {worst.Line} (ML.NET {worst.Trained:G9}, ONNX Runtime {worst.OnnxRuntime:G9}), above the tolerance of {worst.Allowed:G3} there ({tolerance}); the exported graph does not reproduce the model."),
                    worst.Output,
                    worst.Line,
                    worst.Trained,
                    worst.OnnxRuntime);
            }

            return (new ParityReport(ParityTolerance.Rule, tolerance.Absolute, tolerance.Relative, rows, _worst), _maxAbsDiff);
        }
    }
}
