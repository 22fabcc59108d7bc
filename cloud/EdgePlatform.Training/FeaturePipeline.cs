using EdgePlatform.Training.Data;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace EdgePlatform.Training;

/// <summary>
/// Turns a spec's per-column transforms into the ML.NET estimators that run before the trainer:
/// each column's steps, then one concatenation into the feature vector. Everything here exports
/// into the ONNX graph, so a device feeds the graph raw event fields, one input per field.
/// </summary>
public static class FeaturePipeline
{
    internal const string FeaturesColumn = "Features";

    /// <summary>
    /// What a column gets when the spec names nothing for it or its kind: a numeric column with
    /// missing values gets its mean and a missing indicator, other numeric columns nothing of
    /// their own (the whole vector is min-max normalised, see <see cref="Build"/>); a categorical
    /// column is one-hot encoded; a text column has no default that exports faithfully, so the
    /// spec must say what to do with it.
    /// </summary>
    public static IReadOnlyList<string> DefaultTransforms(ColumnKind kind, bool hasMissingValues) => kind switch
    {
        _ when kind.IsNumeric() => hasMissingValues ? [FeatureTransforms.ReplaceMissing, FeatureTransforms.IndicateMissing] : [],
        ColumnKind.Categorical => [FeatureTransforms.OneHot],
        _ => [],
    };

    /// <summary>
    /// Checks the spec's transforms against the columns' kinds without any data, as a submitted
    /// spec is checked before training is queued: every name is known, exports to ONNX, applies to
    /// its column's kind, appears once per column, and a string column ends up encoded as numbers.
    /// </summary>
    /// <exception cref="ArgumentException">The spec is refused; the message names the column, the transform and why.</exception>
    public static void Validate(TrainingSpec spec, IReadOnlyDictionary<string, ColumnKind> featureKinds)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(featureKinds);
        foreach (var column in spec.Transforms?.Keys ?? [])
        {
            if (!featureKinds.ContainsKey(column))
            {
                throw Refuse($"transforms are given for column '{column}', which is not a feature column ({string.Join(", ", featureKinds.Keys)})");
            }
        }

        foreach (var kindName in spec.TransformsByKind?.Keys ?? [])
        {
            if (!ColumnKinds.TryParse(kindName, out var kind) || kind == ColumnKind.Ignore)
            {
                throw Refuse($"transforms are given for kind '{kindName}', which is not a column kind (numeric, categorical, boolean, text, datetime)");
            }
        }

        foreach (var (column, kind) in featureKinds)
        {
            Resolve(spec, column, kind, hasMissingValues: false);
        }
    }

    /// <summary>The steps for one column: the spec's, else its kind's, else the default; checked.</summary>
    internal static IReadOnlyList<string> Resolve(TrainingSpec spec, string column, ColumnKind kind, bool hasMissingValues, bool checkExportable = true)
    {
        var named = spec.Transforms is not null && spec.Transforms.TryGetValue(column, out var forColumn) ? forColumn
            : spec.TransformsByKind?.FirstOrDefault(k => ColumnKinds.TryParse(k.Key, out var parsed) && parsed == kind).Value;
        var steps = named ?? DefaultTransforms(kind, hasMissingValues);
        foreach (var step in steps)
        {
            if (!FeatureTransforms.All.Contains(step, StringComparer.Ordinal))
            {
                throw Refuse($"column '{column}': '{step}' is not a transform; the supported transforms are: {string.Join(", ", FeatureTransforms.Supported)}");
            }

            if (checkExportable && FeatureTransforms.Refused.TryGetValue(step, out var reason))
            {
                throw Refuse($"column '{column}': transform '{step}' cannot be exported into the ONNX graph a device runs: {reason}");
            }

            if (!FeatureTransforms.AppliesTo(step, kind))
            {
                throw Refuse($"column '{column}' is {kind.Name()}; transform '{step}' does not apply to a {kind.Name()} column");
            }
        }

        if (steps.Distinct(StringComparer.Ordinal).Count() != steps.Count)
        {
            throw Refuse($"column '{column}' lists a transform more than once ({string.Join(", ", steps)})");
        }

        if (steps.Count(FeatureTransforms.IsNormalizer) > 1)
        {
            throw Refuse($"column '{column}' lists more than one normalizer ({string.Join(", ", steps.Where(FeatureTransforms.IsNormalizer))}); a column is normalised once");
        }

        if (!kind.IsNumeric() && steps.Count(FeatureTransforms.IsEncoding) != 1 && checkExportable)
        {
            throw Refuse(
                $"column '{column}' is {kind.Name()}; it needs exactly one encoding into numbers ({string.Join(", ", FeatureTransforms.Supported.Where(FeatureTransforms.IsEncoding))})"
                + (kind == ColumnKind.Text ? ", since text has no default that exports to ONNX" : string.Empty));
        }

        if (kind.IsNumeric() && hasMissingValues && !steps.Contains(FeatureTransforms.ReplaceMissing))
        {
            throw Refuse($"column '{column}' has missing values; list '{FeatureTransforms.ReplaceMissing}' for it (with '{FeatureTransforms.IndicateMissing}' to keep the fact), or leave its transforms to the default, which does both");
        }

        // The imputer must see the raw NaNs; a normalizer before it would be fitted on them.
        var replaceAt = steps.ToList().IndexOf(FeatureTransforms.ReplaceMissing);
        if (replaceAt > 0 && steps.Take(replaceAt).Any(FeatureTransforms.IsNormalizer))
        {
            throw Refuse($"column '{column}': '{FeatureTransforms.ReplaceMissing}' must come before its normalizer");
        }

        return steps;
    }

    /// <summary>
    /// The estimators from raw columns to <see cref="FeaturesColumn"/>. When no column names a
    /// normalizer of its own, the whole vector is min-max normalised, as numeric-only training
    /// always did; otherwise each column is scaled only as its transforms say.
    /// </summary>
    internal static (EstimatorChain<ITransformer> Chain, IReadOnlyDictionary<string, IReadOnlyList<string>> Steps) Build(MLContext ml, TrainingSpec spec, TabularDataset data, bool checkExportable = true)
    {
        var chain = new EstimatorChain<ITransformer>();
        var vector = new List<string>(data.FeatureColumns.Count);
        var resolved = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var column in spec.FeatureColumns)
        {
            var index = data.IndexOfFeature(column);
            var steps = Resolve(spec, column, data.FeatureKinds[index], data.MissingCount(index) > 0, checkExportable);
            resolved[column] = steps;
            if (steps.Contains(FeatureTransforms.IndicateMissing))
            {
                var indicator = $"{column}#{FeatureTransforms.IndicateMissing}";
                chain = chain
                    .Append<ITransformer>(ml.Transforms.IndicateMissingValues(indicator, column))
                    .Append<ITransformer>(ml.Transforms.Conversion.ConvertType(indicator, indicator, DataKind.Single));
                vector.Add(indicator);
            }

            var current = column;
            foreach (var step in steps.Where(s => s != FeatureTransforms.IndicateMissing))
            {
                var next = $"{column}#{step}";
                chain = chain.Append(Estimator(ml, spec, step, next, current));
                current = next;
            }

            vector.Add(current);
        }

        chain = chain.Append<ITransformer>(ml.Transforms.Concatenate(FeaturesColumn, [.. vector]));
        if (!resolved.Values.Any(s => s.Any(FeatureTransforms.IsNormalizer)))
        {
            chain = chain.Append<ITransformer>(ml.Transforms.NormalizeMinMax(FeaturesColumn));
        }

        return (chain, resolved);
    }

    private static IEstimator<ITransformer> Estimator(MLContext ml, TrainingSpec spec, string step, string output, string input) => step switch
    {
        FeatureTransforms.ReplaceMissing => ml.Transforms.ReplaceMissingValues(output, input, MissingValueReplacingEstimator.ReplacementMode.Mean),
        FeatureTransforms.MinMax => ml.Transforms.NormalizeMinMax(output, input),
        FeatureTransforms.MeanVariance => ml.Transforms.NormalizeMeanVariance(output, input),
        FeatureTransforms.LogMeanVariance => ml.Transforms.NormalizeLogMeanVariance(output, input),
        FeatureTransforms.Binning => ml.Transforms.NormalizeBinning(output, input),
        FeatureTransforms.OneHot => ml.Transforms.Categorical.OneHotEncoding(output, input),
        FeatureTransforms.OneHotHash => ml.Transforms.Categorical.OneHotHashEncoding(output, input, numberOfBits: spec.HashBits),
        FeatureTransforms.NGrams => ml.Transforms.Text.TokenizeIntoWords(output + ".tokens", input)
            .Append(ml.Transforms.Conversion.MapValueToKey(output + ".keys", output + ".tokens"))
            .Append(ml.Transforms.Text.ProduceNgrams(output, output + ".keys", ngramLength: 2)),
        _ => throw new ArgumentOutOfRangeException(nameof(step), step, "not a transform"),
    };

    private static ArgumentException Refuse(string reason) => new($"Invalid training spec: {reason}.");
}
