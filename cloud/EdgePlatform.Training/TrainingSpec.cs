using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.Training;

/// <summary>What to train, on which columns, and what to record about it in the model card.</summary>
public sealed record TrainingSpec
{
    public required string ModelName { get; init; }

    public required string ModelVersion { get; init; }

    /// <summary>One of <see cref="TrainerNames.All"/>; defaults to <see cref="TrainerNames.FastTree"/>.</summary>
    public string Trainer { get; init; } = TrainerNames.FastTree;

    /// <summary>Seeds the hold-out split and the trainer, so a rerun on the same data gives the same model.</summary>
    public int Seed { get; init; } = 42;

    public required IReadOnlyList<string> FeatureColumns { get; init; }

    public required string LabelColumn { get; init; }

    public required string TrainingRunId { get; init; }

    public required string DatasetName { get; init; }

    /// <summary>The version of the training code (a commit or build number), recorded in lineage.</summary>
    public required string CodeVersion { get; init; }

    /// <summary>Share of each class held out for evaluation and the parity check; default 0.2.</summary>
    [Range(0.05, 0.5)]
    public double TestFraction { get; init; } = 0.2;

    /// <summary>
    /// How far ONNX Runtime may be from ML.NET on Score and Probability for any held-out row
    /// (<see cref="ParityTolerance.Default"/>: 1e-5 + 1e-5 × magnitude); beyond it the export is
    /// refused. Lineage records both parts and the card records the worst row.
    /// </summary>
    public ParityTolerance ParityTolerance { get; init; } = ParityTolerance.Default;

    /// <summary>Trees of a fasttree or lightgbm ensemble; null is the default of 100.</summary>
    [Range(1, 10_000)]
    public int? Trees { get; init; }

    /// <summary>Leaves per tree of a fasttree or lightgbm ensemble; null is the default of 20.</summary>
    [Range(2, 1024)]
    public int? Leaves { get; init; }

    /// <summary>
    /// Transforms per feature column, by <see cref="FeatureTransforms"/> name, applied in the order
    /// listed (<see cref="FeatureTransforms.IndicateMissing"/> always reads the raw value). A column
    /// not listed here takes its kind's entry in <see cref="TransformsByKind"/>, else the default
    /// for its kind (see <see cref="FeaturePipeline.DefaultTransforms"/>).
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? Transforms { get; init; }

    /// <summary>Transforms for every feature column of a kind (<see cref="Data.ColumnKinds.Name"/>: numeric, categorical, …) that <see cref="Transforms"/> does not name.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? TransformsByKind { get; init; }

    /// <summary>Bits of the hash for <see cref="FeatureTransforms.OneHotHash"/>: 2^bits features per column; default 10.</summary>
    [Range(1, 20)]
    public int HashBits { get; init; } = 10;

    /// <summary>How many held-out rows the parity check scores; default 500.</summary>
    [Range(1, int.MaxValue)]
    public int ParityRows { get; init; } = 500;
}

public static class TrainerNames
{
    public const string FastTree = "fasttree";
    public const string LightGbm = "lightgbm";
    public const string LogisticRegression = "logistic-regression";

    public static IReadOnlyList<string> All { get; } = [FastTree, LightGbm, LogisticRegression];
}
