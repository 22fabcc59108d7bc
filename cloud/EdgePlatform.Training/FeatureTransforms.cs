using EdgePlatform.Training.Data;

namespace EdgePlatform.Training;

/// <summary>
/// The transforms a training spec may apply to a feature column before the columns are
/// concatenated into the feature vector, by the names specs, the API and the CLI use. Every one
/// listed in <see cref="Supported"/> exports to ONNX and scores as ML.NET does in ONNX Runtime
/// (each is trained, exported and compared in the tests); the rest are refused before training
/// with the reason in <see cref="Refused"/>.
/// </summary>
public static class FeatureTransforms
{
    /// <summary>Numeric: a missing value (NaN) becomes the column's mean over the training rows.</summary>
    public const string ReplaceMissing = "replace-missing";

    /// <summary>Numeric: adds a 1/0 feature saying whether the raw value was missing (computed before any replacement).</summary>
    public const string IndicateMissing = "indicate-missing";

    /// <summary>Categorical: one 1/0 feature per value seen in training; a missing or unseen value is all zeros.</summary>
    public const string OneHot = "one-hot";

    /// <summary>Categorical: the value hashed (MurmurHash3) into 2^<see cref="TrainingSpec.HashBits"/> 1/0 features; unseen values need no dictionary.</summary>
    public const string OneHotHash = "one-hot-hash";

    /// <summary>Numeric: scaled by the column's largest magnitude into [-1, 1] (ML.NET's min-max, which keeps 0 at 0).</summary>
    public const string MinMax = "min-max";

    /// <summary>Numeric: scaled to unit variance (ML.NET's mean-variance, which keeps 0 at 0).</summary>
    public const string MeanVariance = "mean-variance";

    /// <summary>Numeric: the CDF of a normal fitted to the log of the values.</summary>
    public const string LogMeanVariance = "log-mean-variance";

    /// <summary>Numeric: the value's bin among equal-density bins, scaled to [0, 1].</summary>
    public const string Binning = "binning";

    /// <summary>Text: counts of word n-grams (and character grams) of the normalised text, as ML.NET's FeaturizeText makes them.</summary>
    public const string NGrams = "ngrams";

    /// <summary>Every transform name, supported or not.</summary>
    public static IReadOnlyList<string> All { get; } =
        [ReplaceMissing, IndicateMissing, OneHot, OneHotHash, MinMax, MeanVariance, LogMeanVariance, Binning, NGrams];

    /// <summary>
    /// Transforms ML.NET 5.0 with Microsoft.ML.OnnxConverter 0.23 cannot export to ONNX, or whose
    /// export ONNX Runtime does not score as ML.NET does, and why. A spec naming one is refused.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Refused { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [LogMeanVariance] = "ML.NET's ONNX exporter has no conversion for the log-mean-variance normalizer, so the graph would lack it; use mean-variance or min-max",
        [Binning] = "ML.NET's ONNX exporter has no conversion for the binning normalizer, so the graph would lack it; use min-max or mean-variance",
        [NGrams] = "ML.NET cannot export FeaturizeText or NormalizeText, and its export of word n-grams (TokenizeIntoWords, MapValueToKey, ProduceNgrams) scores a batch of rows as one document in ONNX Runtime; encode the column as categorical (one-hot or one-hot-hash) instead",
    };

    public static IReadOnlyList<string> Supported { get; } = [.. All.Where(t => !Refused.ContainsKey(t))];

    /// <summary>The kinds of column a transform applies to.</summary>
    public static bool AppliesTo(string transform, ColumnKind kind) => transform switch
    {
        ReplaceMissing or IndicateMissing or MinMax or MeanVariance or LogMeanVariance or Binning => kind.IsNumeric(),
        OneHot or OneHotHash => kind is ColumnKind.Categorical or ColumnKind.Text,
        NGrams => kind is ColumnKind.Text or ColumnKind.Categorical,
        _ => false,
    };

    internal static bool IsNormalizer(string transform) => transform is MinMax or MeanVariance or LogMeanVariance or Binning;

    internal static bool IsEncoding(string transform) => transform is OneHot or OneHotHash or NGrams;
}
