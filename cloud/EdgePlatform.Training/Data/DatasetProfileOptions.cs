namespace EdgePlatform.Training.Data;

/// <summary>What <see cref="DatasetProfiler"/> checks and how much memory its sketches may use; the defaults suit most datasets.</summary>
public sealed class DatasetProfileOptions
{
    /// <summary>The label column whose class balance is reported; null for none.</summary>
    public string? LabelColumn { get; init; }

    /// <summary>Per column, the range its values should lie in (either end may be open); values outside are counted and warned about.</summary>
    public IReadOnlyDictionary<string, DeclaredRange> DeclaredRanges { get; init; } = new Dictionary<string, DeclaredRange>();

    /// <summary>Distinct values counted exactly per column (default 10,000); past it distinct counts are HyperLogLog estimates (±0.81%) and top-value counts lower bounds.</summary>
    public int DistinctExactLimit { get; init; } = 10_000;

    /// <summary>Misra-Gries counters per column once past <see cref="DistinctExactLimit"/> (default 1,000): a count is short by at most n / 1,001.</summary>
    public int FrequentValueCounters { get; init; } = 1_000;

    /// <summary>Top values reported per column (default 10).</summary>
    public int TopValues { get; init; } = 10;

    /// <summary>Accuracy of the quantile sketch (default 200: rank error 1.33%, about 3·k doubles per column).</summary>
    public int QuantileSketchK { get; init; } = KllSketch.DefaultK;

    /// <summary>Equal-width histogram bins over min..max (default 20).</summary>
    public int HistogramBins { get; init; } = 20;

    /// <summary>Distinct rows tracked exactly for duplicate detection (default 8,000,000, at most 192 MiB); past it duplicates are estimated from a hash sample.</summary>
    public int DuplicateRowExactLimit { get; init; } = DuplicateRowCounter.DefaultExactLimit;

    /// <summary>|Pearson r| from which a pair of numeric columns is reported (default 0.95).</summary>
    public double CorrelationThreshold { get; init; } = 0.95;

    /// <summary>Numeric columns whose pairs are correlated on every row (default 50); with more, rows are sampled to keep the cost of 50.</summary>
    public int CorrelationMaxColumns { get; init; } = 50;

    /// <summary>Missing fraction above which a column is warned about (default 0.2).</summary>
    public double ManyMissingFraction { get; init; } = 0.2;

    /// <summary>Share of the most frequent value from which a column is near-constant (default 0.99).</summary>
    public double NearConstantFraction { get; init; } = 0.99;

    /// <summary>Smallest class share below which the label is imbalanced (default 0.1).</summary>
    public double MinorityClassFraction { get; init; } = 0.1;

    /// <summary>IQR outliers fraction above which a column has heavy outliers (default 0.05; a normal distribution has 0.7%).</summary>
    public double HeavyOutlierFraction { get; init; } = 0.05;

    /// <summary>A categorical column with more distinct values than this (default 1,000), or more than half its values distinct, is high-cardinality.</summary>
    public int HighCardinality { get; init; } = 1_000;

    /// <summary>Read the next batches on a second thread while profiling the current one (default true): parsing and statistics overlap on two cores.</summary>
    public bool ReadAhead { get; init; } = true;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(DistinctExactLimit, 1, nameof(DistinctExactLimit));
        ArgumentOutOfRangeException.ThrowIfLessThan(FrequentValueCounters, 1, nameof(FrequentValueCounters));
        ArgumentOutOfRangeException.ThrowIfLessThan(TopValues, 1, nameof(TopValues));
        ArgumentOutOfRangeException.ThrowIfLessThan(QuantileSketchK, 8, nameof(QuantileSketchK));
        ArgumentOutOfRangeException.ThrowIfLessThan(HistogramBins, 1, nameof(HistogramBins));
        ArgumentOutOfRangeException.ThrowIfLessThan(DuplicateRowExactLimit, 1, nameof(DuplicateRowExactLimit));
        ArgumentOutOfRangeException.ThrowIfLessThan(CorrelationMaxColumns, 2, nameof(CorrelationMaxColumns));
    }
}

/// <summary>The range a column's values should lie in; null leaves that end open.</summary>
public sealed record DeclaredRange(double? Min, double? Max)
{
    public bool Contains(double value) => !(value < Min) && !(value > Max);
}
