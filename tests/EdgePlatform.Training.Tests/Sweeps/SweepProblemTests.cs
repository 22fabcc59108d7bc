using EdgePlatform.Contracts;
using EdgePlatform.Training.Sweeps;
using EdgePlatform.Training.Tests.Data;

namespace EdgePlatform.Training.Tests.Sweeps;

public sealed class SweepProblemTests
{
    [WekaExamplesFact]
    public void LoadFile_Iris_ReadsClassesInDeclaredOrder()
    {
        var data = WekaData.Load(ModelTasks.MulticlassClassification);

        Assert.Equal(ModelTasks.MulticlassClassification, data.Task);
        Assert.Equal(["Iris-setosa", "Iris-versicolor", "Iris-virginica"], data.Classes);
        Assert.Equal("class", data.LabelColumn);
        Assert.Equal(0, data.GetClass(0));
        Assert.Equal(50, Enumerable.Range(0, data.RowCount).Count(r => data.GetClass(r) == 2));
        Assert.Throws<InvalidOperationException>(() => data.GetLabel(0));
    }

    [WekaExamplesFact]
    public void LoadFile_Cpu_ReadsANumericLabelAsRegression()
    {
        var data = WekaData.Load(ModelTasks.Regression);

        Assert.Equal(ModelTasks.Regression, data.Task);
        Assert.Null(data.Classes);
        Assert.Equal(209, data.RowCount);
        Assert.Equal(198f, data.GetTarget(0));
        Assert.Equal(6, data.FeatureColumns.Count);
    }

    [WekaExamplesFact]
    public void LoadFile_Vote_ReadsTwoClassesAsBinaryWithTheSecondDeclaredPositive()
    {
        var data = SweepData.LoadFile(WekaExamples.File("vote.arff"), new SweepSpec());

        Assert.Equal(ModelTasks.BinaryClassification, data.Task);
        Assert.Equal("republican", data.PositiveClass);
        Assert.Equal(168, data.PositiveCount);
    }

    [WekaExamplesFact]
    public void LoadFile_MulticlassTaskOnATwoClassLabel_ReadsClasses()
    {
        var data = SweepData.LoadFile(WekaExamples.File("vote.arff"), new SweepSpec { Task = ModelTasks.MulticlassClassification });

        Assert.Equal(["democrat", "republican"], data.Classes);
    }

    [WekaExamplesFact]
    public void LoadFile_RegressionOnAClassLabel_NamesTheColumn()
    {
        var ex = Assert.Throws<DatasetFormatException>(() => SweepData.LoadFile(WekaExamples.File("iris.arff"), new SweepSpec { Task = ModelTasks.Regression }));

        Assert.Contains("'class'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("numeric label", ex.Message, StringComparison.Ordinal);
    }

    [WekaExamplesFact]
    public void Load_RegisteredArffSnapshot_ReadsTheSpecsTask()
    {
        var path = WekaExamples.File("iris.arff");
        using var snapshot = File.OpenRead(path);
        var info = new DatasetInfo("iris", "sha256:00", 150, ["sepallength", "sepalwidth", "petallength", "petalwidth"], "class", DateTimeOffset.UnixEpoch, "arff");

        var data = SweepData.Load(snapshot, info, new SweepSpec());

        Assert.Equal(ModelTasks.MulticlassClassification, data.Task);
        Assert.Equal(4, data.FeatureColumns.Count);
        Assert.Equal("sha256:00", data.Digest);
    }

    [WekaExamplesFact]
    public void Resolve_NoTaskOrMetric_InfersThemAndOffersEveryTrainer()
    {
        var problem = SweepProblem.Resolve(new SweepSpec(), WekaData.Load(ModelTasks.MulticlassClassification));

        Assert.Equal(ModelTasks.MulticlassClassification, problem.Task);
        Assert.Equal(SweepMetrics.MacroAccuracy, problem.Metric);
        Assert.Equal(SweepTrainers.For(ModelTasks.MulticlassClassification).Select(t => t.Name), problem.Trainers);
        Assert.Equal("5-fold stratified cross-validation", problem.Validation);
    }

    [WekaExamplesTheory]
    [InlineData("metric", ModelTasks.Regression)]
    [InlineData("task", ModelTasks.Regression)]
    [InlineData("trainers", ModelTasks.MulticlassClassification)]
    [InlineData("folds", ModelTasks.Regression)]
    [InlineData("features", ModelTasks.Regression)]
    [InlineData("holdoutFraction", ModelTasks.Regression)]
    public void Resolve_BadField_NamesIt(string field, string task)
    {
        var spec = field switch
        {
            "metric" => new SweepSpec { Metric = SweepMetrics.Auc },
            "task" => new SweepSpec { Task = ModelTasks.BinaryClassification },
            "trainers" => new SweepSpec { Trainers = ["linear-svm"] },
            "folds" => new SweepSpec { Folds = 0 },
            "features" => new SweepSpec { Features = ["nope"] },
            _ => new SweepSpec { Folds = 1, HoldoutFraction = 0.9 },
        };

        var ex = Assert.Throws<ArgumentException>(() => SweepProblem.Resolve(spec, WekaData.Load(task)));

        Assert.Equal(field, ex.ParamName);
        Assert.Contains($"field '{field}'", ex.Message, StringComparison.Ordinal);
    }

    [WekaExamplesFact]
    public void Run_BinaryTrialByFolds_ScoresEveryBinaryMetric()
    {
        var data = SweepData.LoadFile(WekaExamples.File("vote.arff"), new SweepSpec());
        var problem = SweepProblem.Resolve(new SweepSpec { Folds = 3, Trainers = ["lbfgs-logistic"] }, data);
        var trial = new TrialSpec(1, "lbfgs-logistic", SweepTrainers.Get(problem.Task, "lbfgs-logistic").Defaults, 1, 7);

        var outcome = TrialRunner.Run(problem, trial, data);

        // vote is nearly separable by a linear model: published accuracies are about 0.95.
        Assert.InRange(outcome.Metrics[SweepMetrics.Auc], 0.95, 1);
        Assert.InRange(outcome.Metrics[SweepMetrics.Accuracy], 0.9, 1);
        Assert.Equal(outcome.Metrics[SweepMetrics.Auc], outcome.Score);
        Assert.True(outcome.Metrics[SweepMetrics.LogLoss] > 0);
    }

    [WekaExamplesFact]
    public void Splits_StratifiedFolds_CoverEveryRowOnceWithEachClassInProportion()
    {
        var data = WekaData.Load(ModelTasks.MulticlassClassification);
        var problem = SweepProblem.Resolve(new SweepSpec { Folds = 5 }, data);

        var splits = TrialRunner.Splits(problem, data, 3);

        Assert.Equal(5, splits.Count);
        Assert.Equal(Enumerable.Range(0, data.RowCount), splits.SelectMany(s => s.Test).Order());
        foreach (var (train, test) in splits)
        {
            Assert.Empty(train.Intersect(test));
            Assert.All(Enumerable.Range(0, 3), c => Assert.Equal(10, test.Count(r => data.GetClass(r) == c)));
        }
    }

    [WekaExamplesFact]
    public void Run_LowFidelity_TrainsOnFewerRowsAndStillScores()
    {
        var data = WekaData.Load(ModelTasks.Regression);
        var problem = SweepProblem.Resolve(new SweepSpec { Folds = 1, Metric = SweepMetrics.RSquared }, data);
        var defaults = SweepTrainers.Get(problem.Task, "sdca").Defaults;

        var cheap = TrialRunner.Run(problem, new TrialSpec(1, "sdca", defaults, 0.3, 1), data);
        var full = TrialRunner.Run(problem, new TrialSpec(2, "sdca", defaults, 1, 1), data);

        Assert.True(double.IsFinite(cheap.Score));
        Assert.NotEqual(cheap.Score, full.Score);
    }

    [WekaExamplesFact]
    public void Run_ParameterOutOfRange_NamesIt()
    {
        var data = WekaData.Load(ModelTasks.Regression);
        var problem = SweepProblem.Resolve(new SweepSpec(), data);
        var parameters = new Dictionary<string, double>(SweepTrainers.Get(problem.Task, "lightgbm").Defaults) { ["leaves"] = 1 };

        var ex = Assert.Throws<ArgumentException>(() => TrialRunner.Run(problem, new TrialSpec(1, "lightgbm", parameters, 1, 1), data));

        Assert.Contains("'leaves'", ex.Message, StringComparison.Ordinal);
    }
}
