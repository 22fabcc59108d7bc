namespace EdgePlatform.Contracts;

/// <summary>
/// What one streaming pass over a dataset found: per-column statistics, dataset-wide checks and
/// the warnings a data scientist acts on. Figures that come from a bounded-memory sketch say so:
/// <see cref="QuantileRankError"/> bounds the quantiles, histograms and outlier counts;
/// <see cref="ColumnProfile.DistinctExact"/> and <see cref="DuplicateRowsExact"/> say whether a
/// count is exact or estimated.
/// </summary>
/// <param name="Source">The profiled file (or another name of the source).</param>
/// <param name="Rows">Rows read.</param>
/// <param name="Columns">One profile per column, in schema order.</param>
/// <param name="DuplicateRows">Rows equal in every column to an earlier row (a row seen three times counts twice).</param>
/// <param name="DuplicateRowsExact">False when the dataset had more distinct rows than the exact limit and the count is estimated from a hash sample.</param>
/// <param name="QuantileRankError">Normalised rank error of the quantile sketch at 99% confidence (0.0105: a reported p50 lies between the true p48.95 and p51.05).</param>
/// <param name="Label">The label column and its class balance, when one was named.</param>
/// <param name="Correlations">Pairs of numeric columns with |Pearson r| at or above <paramref name="CorrelationThreshold"/>, strongest first.</param>
/// <param name="CorrelationThreshold">The |r| from which a pair is listed.</param>
/// <param name="CorrelationsSampled">True when there were too many numeric columns for every row and correlations come from a systematic row sample.</param>
/// <param name="Warnings">Findings with the column concerned and a suggested action, most severe kinds first.</param>
public sealed record DatasetProfile(
    string Source,
    long Rows,
    IReadOnlyList<ColumnProfile> Columns,
    long DuplicateRows,
    bool DuplicateRowsExact,
    double QuantileRankError,
    LabelProfile? Label,
    IReadOnlyList<CorrelatedPair> Correlations,
    double CorrelationThreshold,
    bool CorrelationsSampled,
    IReadOnlyList<ProfileWarning> Warnings);

/// <summary>
/// One column's profile. Numeric statistics (min to histogram) are present for numeric, boolean
/// and date-time columns (date-times as seconds since the Unix epoch); quantiles, histogram and
/// outliers for numeric and date-time columns only.
/// </summary>
/// <param name="Name">Column name.</param>
/// <param name="Kind">numeric, categorical, boolean, text or datetime.</param>
/// <param name="Count">Non-missing values.</param>
/// <param name="Missing">Missing values (NaN for numbers, null for strings).</param>
/// <param name="Distinct">Distinct non-missing values: exact up to the limit, then a HyperLogLog estimate.</param>
/// <param name="DistinctExact">Whether <paramref name="Distinct"/> is exact.</param>
/// <param name="Min">Smallest value (exact).</param>
/// <param name="Max">Largest value (exact).</param>
/// <param name="Mean">Mean (exact; Welford's update, per batch by Chan et al.'s pairwise form).</param>
/// <param name="StdDev">Sample standard deviation (n − 1; exact, same update); absent under two values.</param>
/// <param name="Quantiles">p1, p5, p25, p50, p75, p95, p99 from the quantile sketch.</param>
/// <param name="Histogram">Equal-width bins over min..max, counts read from the quantile sketch's CDF.</param>
/// <param name="Outliers">Values outside [Q1 − 1.5 IQR, Q3 + 1.5 IQR], estimated from the sketch.</param>
/// <param name="OutsideDeclaredRange">Values outside the range declared for the column (exact); absent when none was declared.</param>
/// <param name="TopValues">The most frequent values, most frequent first.</param>
/// <param name="TopValuesExact">Whether the top values' counts are exact; otherwise each count is a lower bound (Misra-Gries), short by at most the column's count divided by the counters kept.</param>
/// <param name="Constant">Every non-missing value is the same.</param>
/// <param name="NearConstant">The most frequent value is at least 99% of the non-missing values.</param>
public sealed record ColumnProfile(
    string Name,
    string Kind,
    long Count,
    long Missing,
    long Distinct,
    bool DistinctExact,
    double? Min,
    double? Max,
    double? Mean,
    double? StdDev,
    IReadOnlyList<QuantileValue>? Quantiles,
    IReadOnlyList<HistogramBin>? Histogram,
    long? Outliers,
    long? OutsideDeclaredRange,
    IReadOnlyList<ValueCount> TopValues,
    bool TopValuesExact,
    bool Constant,
    bool NearConstant)
{
    /// <summary>Missing values as a fraction of rows.</summary>
    public double MissingFraction => Count + Missing == 0 ? 0 : (double)Missing / (Count + Missing);
}

/// <summary>The value at <paramref name="Probability"/> (0.25 for the first quartile).</summary>
public sealed record QuantileValue(double Probability, double Value);

/// <summary>Values in [<paramref name="Lower"/>, <paramref name="Upper"/>) (the last bin includes its upper edge).</summary>
public sealed record HistogramBin(double Lower, double Upper, long Count);

/// <summary>A value as text (numbers in invariant round-trip form) and how often it occurred.</summary>
public sealed record ValueCount(string Value, long Count);

/// <summary>The label column's classes, most frequent first, and the smallest class's share of labelled rows.</summary>
/// <param name="Column">The label column.</param>
/// <param name="Classes">Each class with its count and share of labelled rows, most frequent first.</param>
/// <param name="MinorityFraction">The smallest class's share.</param>
/// <param name="ClassesExact">False when the label had more distinct values than the exact limit: it is probably not a class label, and only the most frequent values are listed.</param>
public sealed record LabelProfile(string Column, IReadOnlyList<ClassShare> Classes, double MinorityFraction, bool ClassesExact);

public sealed record ClassShare(string Value, long Count, double Fraction);

/// <summary>Two numeric columns whose Pearson correlation over rows where both are present is <paramref name="R"/>.</summary>
public sealed record CorrelatedPair(string First, string Second, double R, long Rows);

/// <summary>
/// A finding: <paramref name="Kind"/> is one of <see cref="ProfileWarningKinds"/>; <paramref name="Column"/>
/// is the column concerned (both columns, comma-separated, for a correlated pair; absent for the dataset).
/// </summary>
public sealed record ProfileWarning(string Kind, string? Column, string Message, string Action);

/// <summary>The kinds of <see cref="ProfileWarning"/>, in the order a report lists them.</summary>
public static class ProfileWarningKinds
{
    public const string Constant = "constant";
    public const string NearConstant = "near-constant";
    public const string ManyMissing = "many-missing";
    public const string OutsideDeclaredRange = "outside-declared-range";
    public const string ClassImbalance = "class-imbalance";
    public const string Duplicates = "duplicates";
    public const string HighCardinality = "high-cardinality";
    public const string HeavyOutliers = "heavy-outliers";
    public const string Correlated = "correlated";

    public static IReadOnlyList<string> All { get; } =
        [Constant, NearConstant, ManyMissing, OutsideDeclaredRange, ClassImbalance, Duplicates, HighCardinality, HeavyOutliers, Correlated];
}
