using EdgePlatform.Contracts;
using Microsoft.ML;
using Microsoft.ML.Trainers;
using Microsoft.ML.Trainers.FastTree;
using Microsoft.ML.Trainers.LightGbm;

namespace EdgePlatform.Training.Sweeps;

/// <summary>
/// A trainer a sweep may search over: its name within its task, its search space, whether it is an
/// ensemble of trees (whose fidelity scales the trees rather than the rows), and a prior guess of its
/// cost relative to the cheapest trainer, which orders the first trials before any are timed.
/// </summary>
public sealed class SweepTrainer
{
    internal SweepTrainer(string name, string task, double relativeCost, bool isEnsemble, IReadOnlyList<HyperParameter> space, Func<MLContext, TrainerArguments, IEstimator<ITransformer>> create, bool needsCalibration = false)
    {
        Name = name;
        Task = task;
        RelativeCost = relativeCost;
        IsEnsemble = isEnsemble;
        Space = space;
        Create = create;
        NeedsCalibration = needsCalibration;
    }

    public string Name { get; }

    public string Task { get; }

    public double RelativeCost { get; }

    public bool IsEnsemble { get; }

    public IReadOnlyList<HyperParameter> Space { get; }

    /// <summary>The trainer's margins are not probabilities; a Platt calibrator is fitted after it for the binary card's probability output.</summary>
    internal bool NeedsCalibration { get; }

    internal Func<MLContext, TrainerArguments, IEstimator<ITransformer>> Create { get; }

    /// <summary>The cheap, good starting point of the search: every parameter at its default.</summary>
    public IReadOnlyDictionary<string, double> Defaults => Space.ToDictionary(p => p.Name, p => p.Default, StringComparer.Ordinal);

    /// <summary>Checks that <paramref name="parameters"/> names exactly this trainer's parameters, each in range.</summary>
    public void Check(IReadOnlyDictionary<string, double> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        foreach (var name in parameters.Keys.Where(k => Space.All(p => p.Name != k)))
        {
            throw new ArgumentException($"Trainer '{Name}' has no parameter '{name}'; its parameters are: {string.Join(", ", Space.Select(p => p.Name))}.", nameof(parameters));
        }

        foreach (var parameter in Space)
        {
            parameter.Check(Name, parameters.TryGetValue(parameter.Name, out var value)
                ? value
                : throw new ArgumentException($"Trainer '{Name}' needs parameter '{parameter.Name}'.", nameof(parameters)));
        }
    }
}

/// <summary>What a trainer is built with: the label column, the trial's parameters, the share of the trees an ensemble grows, and the seed.</summary>
internal sealed record TrainerArguments(string Label, IReadOnlyDictionary<string, double> Parameters, double TreeShare, int Seed)
{
    public const string Features = FeaturePipeline.FeaturesColumn;

    public float Float(string name) => (float)Parameters[name];

    public int Int(string name) => (int)Math.Round(Parameters[name]);

    /// <summary>An ensemble's tree count at this fidelity; at least two, so a cheap rung still has an ensemble.</summary>
    public int Trees(string name) => Math.Max(2, (int)Math.Round(Parameters[name] * TreeShare));
}

/// <summary>
/// The trainers offered per task: every ML.NET trainer whose model exports to ONNX for that task
/// with outputs ONNX Runtime reproduces (SweepTrainersTests checks each). Not offered: field-aware
/// factorization machines, GAMs, symbolic SGD and local-deep SVM (their models have no ONNX
/// export), and naive Bayes, which exports but whose multiclass scores are unnormalised
/// log-likelihoods (they sum to about -3.8 on iris), not the probabilities a card publishes.
/// Every trainer that has a thread count runs on one thread (a sweep parallelizes across trials,
/// and one thread keeps reruns identical) and is seeded by the trial.
/// </summary>
public static class SweepTrainers
{
    private static readonly HyperParameter L1 = new("l1Regularization", 1e-4, 10, 0.01, LogScale: true);
    private static readonly HyperParameter L2 = new("l2Regularization", 1e-4, 10, 0.1, LogScale: true);
    private static readonly HyperParameter Trees = new("trees", 4, 1000, 20, LogScale: true, IsInteger: true);
    private static readonly HyperParameter Leaves = new("leaves", 4, 256, 8, LogScale: true, IsInteger: true);
    private static readonly HyperParameter MinimumLeafRows = new("minimumExampleCountPerLeaf", 2, 64, 10, LogScale: true, IsInteger: true);
    private static readonly HyperParameter LearningRate = new("learningRate", 0.005, 0.5, 0.1, LogScale: true);
    private static readonly HyperParameter FeatureFraction = new("featureFraction", 0.3, 1, 1);
    // The averaged perceptron and online gradient descent refuse an L2 weight of 0.5 or more.
    private static readonly HyperParameter PerceptronL2 = new("l2Regularization", 1e-6, 0.4, 1e-6, LogScale: true);
    private static readonly HyperParameter BoosterL2 = new("l2Regularization", 1e-4, 10, 0.01, LogScale: true);

    private static readonly HyperParameter[] Linear = [L1, L2];
    private static readonly HyperParameter[] Boosted = [Trees, Leaves, MinimumLeafRows, LearningRate];
    private static readonly HyperParameter[] Forest = [Trees, Leaves, MinimumLeafRows, FeatureFraction with { Default = 0.7 }];
    private static readonly HyperParameter[] Gbm = [Trees, Leaves, MinimumLeafRows, LearningRate, FeatureFraction, BoosterL2];

    private static readonly SweepTrainer[] Catalog =
    [
        // Binary classification.
        new("sdca-logistic", ModelTasks.BinaryClassification, 1, false, Linear, (ml, a) => ml.BinaryClassification.Trainers.SdcaLogisticRegression(new SdcaLogisticRegressionBinaryTrainer.Options
        {
            LabelColumnName = a.Label, FeatureColumnName = TrainerArguments.Features, L1Regularization = a.Float(L1.Name), L2Regularization = a.Float(L2.Name), NumberOfThreads = 1,
        })),
        new("lbfgs-logistic", ModelTasks.BinaryClassification, 1, false, Linear, (ml, a) => ml.BinaryClassification.Trainers.LbfgsLogisticRegression(new LbfgsLogisticRegressionBinaryTrainer.Options
        {
            LabelColumnName = a.Label, FeatureColumnName = TrainerArguments.Features, L1Regularization = a.Float(L1.Name), L2Regularization = a.Float(L2.Name), NumberOfThreads = 1,
        })),
        new("averaged-perceptron", ModelTasks.BinaryClassification, 1, false, [new("learningRate", 0.01, 1, 1, LogScale: true), PerceptronL2, new("iterations", 1, 100, 10, LogScale: true, IsInteger: true)],
            (ml, a) => ml.BinaryClassification.Trainers.AveragedPerceptron(new AveragedPerceptronTrainer.Options
            {
                LabelColumnName = a.Label, FeatureColumnName = TrainerArguments.Features, LearningRate = a.Float("learningRate"), L2Regularization = a.Float("l2Regularization"), NumberOfIterations = a.Int("iterations"),
            }),
            needsCalibration: true),
        new("linear-svm", ModelTasks.BinaryClassification, 1, false, [new("lambda", 1e-6, 1, 1e-3, LogScale: true), new("iterations", 1, 100, 10, LogScale: true, IsInteger: true)],
            (ml, a) => ml.BinaryClassification.Trainers.LinearSvm(new LinearSvmTrainer.Options
            {
                LabelColumnName = a.Label, FeatureColumnName = TrainerArguments.Features, Lambda = a.Float("lambda"), NumberOfIterations = a.Int("iterations"),
            }),
            needsCalibration: true),
        new("fasttree", ModelTasks.BinaryClassification, 3, true, Boosted, (ml, a) => ml.BinaryClassification.Trainers.FastTree(FastTree<FastTreeBinaryTrainer.Options>(a))),
        new("fastforest", ModelTasks.BinaryClassification, 3, true, Forest, (ml, a) => ml.BinaryClassification.Trainers.FastForest(FastForest<FastForestBinaryTrainer.Options>(a)), needsCalibration: true),
        new("lightgbm", ModelTasks.BinaryClassification, 2, true, Gbm, (ml, a) => ml.BinaryClassification.Trainers.LightGbm(LightGbm(new LightGbmBinaryTrainer.Options(), a))),

        // Multiclass classification.
        new("sdca-maxent", ModelTasks.MulticlassClassification, 1, false, Linear, (ml, a) => ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(new SdcaMaximumEntropyMulticlassTrainer.Options
        {
            LabelColumnName = a.Label, FeatureColumnName = TrainerArguments.Features, L1Regularization = a.Float(L1.Name), L2Regularization = a.Float(L2.Name), NumberOfThreads = 1,
        })),
        new("lbfgs-maxent", ModelTasks.MulticlassClassification, 1, false, Linear, (ml, a) => ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new LbfgsMaximumEntropyMulticlassTrainer.Options
        {
            LabelColumnName = a.Label, FeatureColumnName = TrainerArguments.Features, L1Regularization = a.Float(L1.Name), L2Regularization = a.Float(L2.Name), NumberOfThreads = 1,
        })),
        new("lightgbm", ModelTasks.MulticlassClassification, 3, true, Gbm, (ml, a) => ml.MulticlassClassification.Trainers.LightGbm(LightGbm(new LightGbmMulticlassTrainer.Options(), a))),
        new("fasttree-ova", ModelTasks.MulticlassClassification, 6, true, Boosted, (ml, a) => ml.MulticlassClassification.Trainers.OneVersusAll(
            ml.BinaryClassification.Trainers.FastTree(FastTree<FastTreeBinaryTrainer.Options>(a)), a.Label)),
        new("fastforest-ova", ModelTasks.MulticlassClassification, 6, true, Forest, (ml, a) => ml.MulticlassClassification.Trainers.OneVersusAll(
            ml.BinaryClassification.Trainers.FastForest(FastForest<FastForestBinaryTrainer.Options>(a)), a.Label)),

        // Regression.
        new("sdca", ModelTasks.Regression, 1, false, Linear, (ml, a) => ml.Regression.Trainers.Sdca(new SdcaRegressionTrainer.Options
        {
            LabelColumnName = a.Label, FeatureColumnName = TrainerArguments.Features, L1Regularization = a.Float(L1.Name), L2Regularization = a.Float(L2.Name), NumberOfThreads = 1,
        })),
        new("lbfgs-poisson", ModelTasks.Regression, 1, false, Linear, (ml, a) => ml.Regression.Trainers.LbfgsPoissonRegression(new LbfgsPoissonRegressionTrainer.Options
        {
            LabelColumnName = a.Label, FeatureColumnName = TrainerArguments.Features, L1Regularization = a.Float(L1.Name), L2Regularization = a.Float(L2.Name), NumberOfThreads = 1,
        })),
        new("online-gradient-descent", ModelTasks.Regression, 1, false, [new("learningRate", 0.001, 1, 0.1, LogScale: true), PerceptronL2, new("iterations", 1, 100, 10, LogScale: true, IsInteger: true)],
            (ml, a) => ml.Regression.Trainers.OnlineGradientDescent(new OnlineGradientDescentTrainer.Options
            {
                LabelColumnName = a.Label, FeatureColumnName = TrainerArguments.Features, LearningRate = a.Float("learningRate"), L2Regularization = a.Float("l2Regularization"), NumberOfIterations = a.Int("iterations"),
            })),
        new("fasttree", ModelTasks.Regression, 3, true, Boosted, (ml, a) => ml.Regression.Trainers.FastTree(FastTree<FastTreeRegressionTrainer.Options>(a))),
        new("fasttree-tweedie", ModelTasks.Regression, 3, true, Boosted, (ml, a) => ml.Regression.Trainers.FastTreeTweedie(FastTree<FastTreeTweedieTrainer.Options>(a))),
        new("fastforest", ModelTasks.Regression, 3, true, Forest, (ml, a) => ml.Regression.Trainers.FastForest(FastForest<FastForestRegressionTrainer.Options>(a))),
        new("lightgbm", ModelTasks.Regression, 2, true, Gbm, (ml, a) => ml.Regression.Trainers.LightGbm(LightGbm(new LightGbmRegressionTrainer.Options(), a))),
    ];

    /// <summary>Trainers that model a non-negative quantity (Poisson, Tweedie): offered only when no label is negative.</summary>
    public static IReadOnlyList<string> NonNegativeLabelTrainers { get; } = ["lbfgs-poisson", "fasttree-tweedie"];

    /// <summary>The trainers offered for <paramref name="task"/>, cheapest first.</summary>
    public static IReadOnlyList<SweepTrainer> For(string task) => [.. Catalog.Where(t => t.Task == task)];

    /// <summary>The named trainer for <paramref name="task"/>; throws <see cref="ArgumentException"/> listing the valid names otherwise.</summary>
    public static SweepTrainer Get(string task, string name) =>
        Catalog.FirstOrDefault(t => t.Task == task && t.Name == name)
        ?? throw new ArgumentException($"Trainer '{name}' is not offered for {task}; the trainers for it are: {string.Join(", ", For(task).Select(t => t.Name))}.", nameof(name));

    private static T FastTree<T>(TrainerArguments a)
        where T : BoostedTreeOptions, new() => new()
    {
        LabelColumnName = a.Label,
        FeatureColumnName = TrainerArguments.Features,
        NumberOfTrees = a.Trees(Trees.Name),
        NumberOfLeaves = a.Int(Leaves.Name),
        MinimumExampleCountPerLeaf = a.Int(MinimumLeafRows.Name),
        LearningRate = a.Parameters[LearningRate.Name],
        Seed = a.Seed,
        NumberOfThreads = 1,
    };

    private static T FastForest<T>(TrainerArguments a)
        where T : FastForestOptionsBase, new() => new()
    {
        LabelColumnName = a.Label,
        FeatureColumnName = TrainerArguments.Features,
        NumberOfTrees = a.Trees(Trees.Name),
        NumberOfLeaves = a.Int(Leaves.Name),
        MinimumExampleCountPerLeaf = a.Int(MinimumLeafRows.Name),
        FeatureFraction = a.Parameters[FeatureFraction.Name],
        Seed = a.Seed,
        NumberOfThreads = 1,
    };

    private static LightGbmBinaryTrainer.Options LightGbm(LightGbmBinaryTrainer.Options o, TrainerArguments a)
    {
        (o.LabelColumnName, o.FeatureColumnName, o.NumberOfIterations, o.NumberOfLeaves, o.MinimumExampleCountPerLeaf, o.LearningRate, o.Seed) = GbmCommon(a);
        (o.Deterministic, o.NumberOfThreads, o.Booster) = (true, 1, Booster(a));
        return o;
    }

    private static LightGbmMulticlassTrainer.Options LightGbm(LightGbmMulticlassTrainer.Options o, TrainerArguments a)
    {
        (o.LabelColumnName, o.FeatureColumnName, o.NumberOfIterations, o.NumberOfLeaves, o.MinimumExampleCountPerLeaf, o.LearningRate, o.Seed) = GbmCommon(a);
        (o.Deterministic, o.NumberOfThreads, o.Booster) = (true, 1, Booster(a));
        return o;
    }

    private static LightGbmRegressionTrainer.Options LightGbm(LightGbmRegressionTrainer.Options o, TrainerArguments a)
    {
        (o.LabelColumnName, o.FeatureColumnName, o.NumberOfIterations, o.NumberOfLeaves, o.MinimumExampleCountPerLeaf, o.LearningRate, o.Seed) = GbmCommon(a);
        (o.Deterministic, o.NumberOfThreads, o.Booster) = (true, 1, Booster(a));
        return o;
    }

    // LightGBM is only reproducible single-threaded with its deterministic mode on, as single training runs configure it.
    private static (string, string, int, int, int, double, int?) GbmCommon(TrainerArguments a) =>
        (a.Label, TrainerArguments.Features, a.Trees(Trees.Name), a.Int(Leaves.Name), a.Int(MinimumLeafRows.Name), a.Parameters[LearningRate.Name], a.Seed);

    private static GradientBooster.Options Booster(TrainerArguments a) => new()
    {
        L2Regularization = a.Parameters[BoosterL2.Name],
        FeatureFraction = a.Parameters[FeatureFraction.Name],
    };
}
