using EdgePlatform.Contracts;
using EdgePlatform.Training.Scoring;
using EdgePlatform.Training.Sweeps;
using EdgePlatform.Training.Tests.Data;

namespace EdgePlatform.Training.Tests.Sweeps;

/// <summary>
/// Every trainer offered for a task trains at its defaults on real data, scores a finite metric,
/// and exports to an ONNX graph that ONNX Runtime runs with the card's outputs, reproducing ML.NET
/// within the parity rule (the refit refuses the export otherwise).
/// </summary>
public sealed class SweepTrainersTests
{
    public static TheoryData<string, string> Trainers()
    {
        var data = new TheoryData<string, string>();
        foreach (var task in ModelTasks.All)
        {
            foreach (var trainer in SweepTrainers.For(task))
            {
                data.Add(task, trainer.Name);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Trainers))]
    public void Create_EveryCornerOfTheSearchSpace_IsAcceptedByTheTrainer(string task, string trainerName)
    {
        // ML.NET checks its options when the estimator is built: a search space reaching past what a
        // trainer accepts would fail every trial proposed out there.
        var trainer = SweepTrainers.Get(task, trainerName);
        foreach (var corner in new Func<HyperParameter, double>[] { p => p.Min, p => p.Max, p => p.Default })
        {
            var parameters = trainer.Space.ToDictionary(p => p.Name, corner, StringComparer.Ordinal);
            trainer.Check(parameters);
            Assert.NotNull(trainer.Create(new Microsoft.ML.MLContext(1), new TrainerArguments("label", parameters, 1, 1)));
        }
    }

    [WekaExamplesTheory]
    [MemberData(nameof(Trainers))]
    public void Refit_EveryOfferedTrainer_ExportsWithParity(string task, string trainerName)
    {
        var data = WekaData.Load(task);
        var spec = new SweepSpec { Trainers = [trainerName], Folds = 1, Dataset = WekaData.FileFor(task) };
        var problem = SweepProblem.Resolve(spec, data);
        var trainer = SweepTrainers.Get(task, trainerName);
        var trial = new TrialSpec(1, trainerName, trainer.Defaults, 1, spec.Seed);

        var outcome = TrialRunner.Run(problem, trial, data);
        Assert.True(double.IsFinite(outcome.Score), $"{trainerName} scored {outcome.Score}");
        Assert.Equal(SweepMetrics.For(task).Order(), outcome.Metrics.Keys.Order());

        var summary = new ModelSearchSummary("s1", problem.Metric, problem.Validation, 1, outcome.Score, trainerName, new Dictionary<string, string>(), []);
        var model = SweepRefit.Refit(problem, trial, summary, data, "m", "1.0.0", "run-1", "test", new FixedTimeProvider(DateTimeOffset.UnixEpoch), outcome);

        Assert.Equal(task, model.Card.Task);
        Assert.Equal(trainerName, model.Card.Lineage.Trainer);
        Assert.NotNull(model.Card.Parity);
        Assert.True(model.Card.Parity!.RowsCompared > 0);
        Assert.Equal(outcome.Score, model.Card.Metrics[problem.Metric]);
        Assert.Same(summary, model.Card.Search);

        // A device's view: ONNX Runtime through the card's bindings against the saved ML.NET model.
        var rows = Enumerable.Range(0, 20).ToArray();
        var features = rows.Select(data.GetFeatures).ToArray();
        using var onnx = new OnnxScorer(model.OnnxModel, model.Card);
        var mlNet = new MlNetScorer(model.MlNetModel);
        switch (task)
        {
            case ModelTasks.MulticlassClassification:
            {
                Assert.Equal(data.Classes, model.Card.Classes);
                var probabilities = Assert.Single(model.Card.Outputs, o => o.Field == PredictionFields.Probabilities);
                Assert.Equal(TensorElementTypes.Float32, probabilities.ElementType);
                Assert.Equal(data.Classes!.Count, probabilities.Shape[^1]);
                var expected = mlNet.PredictMulticlass(features);
                var actual = onnx.PredictMulticlass(features);
                for (var i = 0; i < rows.Length; i++)
                {
                    Assert.Equal(expected[i].Label, actual[i].Label);
                    Assert.Contains(actual[i].Label, data.Classes);
                    Assert.Equal(1.0, actual[i].Probabilities.Sum(), 1e-3 * data.Classes.Count);
                    for (var c = 0; c < data.Classes.Count; c++)
                    {
                        Assert.True(ParityTolerance.Default.Allowed(expected[i].Probabilities[c], actual[i].Probabilities[c]) >= Math.Abs(expected[i].Probabilities[c] - actual[i].Probabilities[c]));
                    }
                }

                break;
            }

            case ModelTasks.Regression:
            {
                Assert.Single(model.Card.Outputs, o => o.Field == PredictionFields.Score);
                var expected = mlNet.PredictRegression(features);
                var actual = onnx.PredictRegression(features);
                for (var i = 0; i < rows.Length; i++)
                {
                    Assert.True(ParityTolerance.Default.Allowed(expected[i], actual[i]) >= Math.Abs(expected[i] - actual[i]), $"row {i}: {expected[i]} vs {actual[i]}");
                }

                break;
            }

            default:
            {
                var expected = mlNet.Predict(features);
                var actual = onnx.Predict(features);
                for (var i = 0; i < rows.Length; i++)
                {
                    Assert.True(ParityTolerance.Default.Allowed(expected[i].Probability, actual[i].Probability) >= Math.Abs(expected[i].Probability - actual[i].Probability));
                    Assert.InRange(actual[i].Probability, 0f, 1f);
                }

                break;
            }
        }
    }
}
