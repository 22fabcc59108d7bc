using EdgePlatform.Contracts;
using EdgePlatform.Training.Scoring;
using EdgePlatform.Training.Sweeps;
using EdgePlatform.Training.Tests.Data;

namespace EdgePlatform.Training.Tests.Sweeps;

public sealed class LocalSweepTests
{
    [WekaExamplesTheory]
    [InlineData(ModelTasks.BinaryClassification, 0.85)]
    [InlineData(ModelTasks.MulticlassClassification, 0.85)]
    [InlineData(ModelTasks.Regression, 0.5)]
    public async Task RunAsync_EachTask_SearchesRefitsAndExportsTheWinner(string task, double goodEnough)
    {
        var data = WekaData.Load(task);
        var spec = new SweepSpec { MaxTrials = 10, Folds = 3, Dataset = WekaData.FileFor(task), Metric = task == ModelTasks.Regression ? SweepMetrics.RSquared : null };
        var reports = new List<LocalSweepProgress>();

        var result = await LocalSweep.RunAsync(spec, data, new LocalSweepOptions { Parallelism = 2, SweepId = "sweep-7" }, new SyncProgress(reports.Add), CancellationToken.None);

        Assert.Equal(10, result.Trials.Count);
        Assert.Equal(10, result.Summary.Trials);
        Assert.Equal(result.Trials.Count + 1, reports.Count);
        Assert.Null(reports[^1].Finished);
        Assert.Contains(result.Trials, t => t.Trial.Fidelity == 1);
        Assert.True(result.Summary.BestScore >= goodEnough, $"{result.Problem.Metric} {result.Summary.BestScore}");

        var card = result.Model.Card;
        Assert.Equal(task, card.Task);
        Assert.Equal(result.Summary, card.Search);
        Assert.Equal(result.Summary.BestTrainer, card.Lineage.Trainer);
        Assert.Equal(result.Summary.BestScore, card.Metrics[result.Problem.Metric]);
        Assert.Equal("sweep-7", card.Lineage.TrainingRunId);
        Assert.Equal(task == ModelTasks.MulticlassClassification ? data.Classes : null, card.Classes);

        using var scorer = new OnnxScorer(result.Model.OnnxModel, card);
        var rows = Enumerable.Range(0, data.RowCount).Select(data.GetFeatures).ToArray();
        switch (task)
        {
            case ModelTasks.MulticlassClassification:
                var predicted = scorer.PredictMulticlass(rows);
                Assert.True(predicted.Select((p, r) => p.Label == data.Classes![data.GetClass(r)]).Count(c => c) > 0.9 * data.RowCount);
                break;
            case ModelTasks.Regression:
                Assert.Equal(data.RowCount, scorer.PredictRegression(rows).Count);
                break;
            default:
                Assert.True(scorer.Predict(rows).Select((p, r) => p.Label == data.GetLabel(r)).Count(c => c) > 0.85 * data.RowCount);
                break;
        }
    }

    [WekaExamplesFact]
    public async Task RunAsync_Cancelled_StopsWithoutAModel()
    {
        var data = WekaData.Load(ModelTasks.Regression);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => LocalSweep.RunAsync(new SweepSpec { MaxTrials = 5 }, data, new LocalSweepOptions(), null, cancelled.Token));
    }

    [WekaExamplesFact]
    public async Task RunAsync_BadMetric_NamesTheField()
    {
        var data = WekaData.Load(ModelTasks.Regression);

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => LocalSweep.RunAsync(new SweepSpec { Metric = "auc" }, data, new LocalSweepOptions(), null, CancellationToken.None));

        Assert.Equal("metric", ex.ParamName);
    }

    private sealed class SyncProgress(Action<LocalSweepProgress> report) : IProgress<LocalSweepProgress>
    {
        public void Report(LocalSweepProgress value) => report(value);
    }
}
