using System.Globalization;
using EdgePlatform.Contracts;

namespace EdgePlatform.Training.Data;

/// <summary>
/// One column's running statistics during the profiling pass: missing count, mean and
/// variance (Welford/Chan), exact min and max, the value counter, and (numeric and date-time) the quantile
/// sketch. Each value is hashed once and folded into its row's hash for duplicate detection.
/// </summary>
internal sealed class ColumnAccumulator
{
    private static readonly double[] QuantileProbabilities = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];

    private readonly DataColumn _column;
    private readonly DeclaredRange? _range;
    private readonly NumberCounter? _numbers;
    private readonly ValueCounter<string>? _strings;
    private readonly KllSketch? _sketch;
    private long _count;
    private long _missing;
    private double _mean;
    private double _m2;
    private double _min = double.PositiveInfinity;
    private double _max = double.NegativeInfinity;
    private long _outsideRange;

    public ColumnAccumulator(DataColumn column, DatasetProfileOptions options)
    {
        _column = column;
        options.DeclaredRanges.TryGetValue(column.Name, out _range);
        if (column.Kind.IsNumeric())
        {
            _numbers = new NumberCounter(options.DistinctExactLimit, options.FrequentValueCounters);
            if (column.Kind is ColumnKind.Numeric or ColumnKind.DateTime)
            {
                _sketch = new KllSketch(options.QuantileSketchK);
            }
        }
        else
        {
            _strings = new ValueCounter<string>(options.DistinctExactLimit, options.FrequentValueCounters, ValueHash.Of, StringComparer.Ordinal);
        }
    }

    public DataColumn Column => _column;

    public bool IsExactCounts => (_numbers?.Exact ?? _strings!.Exact);

    public void AddNumbers(double[] values, int rows, ulong[] rowHashes)
    {
        var counter = _numbers!;
        long count = 0;
        double sum = 0;
        for (var r = 0; r < rows; r++)
        {
            var value = values[r];

            // An infinity would poison the mean and cannot be written as JSON; it is as unusable as a missing value.
            if (!double.IsFinite(value))
            {
                _missing++;
                rowHashes[r] = ValueHash.Combine(rowHashes[r], ValueHash.Missing);
                continue;
            }

            count++;
            sum += value;
            if (value < _min)
            {
                _min = value;
            }

            if (value > _max)
            {
                _max = value;
            }

            if (_range is not null && !_range.Contains(value))
            {
                _outsideRange++;
            }

            // -0.0 and 0.0 count as one value.
            var key = value == 0 ? 0.0 : value;
            var hash = ValueHash.Of(key);
            rowHashes[r] = ValueHash.Combine(rowHashes[r], hash);
            counter.Add(key, hash);
            _sketch?.Add(value);
        }

        if (count == 0)
        {
            return;
        }

        // The batch's mean and sum of squared deviations about it (a second pass over values
        // still in cache), combined with the running ones by Chan et al.'s update: Welford's
        // stability without a division per value.
        var batchMean = sum / count;
        double m2 = 0;
        for (var r = 0; r < rows; r++)
        {
            var value = values[r];
            if (double.IsFinite(value))
            {
                var deviation = value - batchMean;
                m2 += deviation * deviation;
            }
        }

        var total = _count + count;
        var delta = batchMean - _mean;
        _mean += delta * count / total;
        _m2 += m2 + (delta * delta * _count * count / total);
        _count = total;
    }

    public void AddStrings(string?[] values, int rows, ulong[] rowHashes)
    {
        var counter = _strings!;
        for (var r = 0; r < rows; r++)
        {
            var value = values[r];
            if (value is null)
            {
                _missing++;
                rowHashes[r] = ValueHash.Combine(rowHashes[r], ValueHash.Missing);
                continue;
            }

            _count++;
            var hash = ValueHash.Of(value);
            rowHashes[r] = ValueHash.Combine(rowHashes[r], hash);
            counter.Add(value, hash);
        }
    }

    /// <summary>Class counts for a label column: every class when exact, else the most frequent.</summary>
    public (IReadOnlyList<KeyValuePair<string, long>> Classes, bool Exact) Classes(int topWhenApproximate)
    {
        if (_numbers is not null)
        {
            var counts = _numbers.Exact ? _numbers.Top(int.MaxValue) : _numbers.Top(topWhenApproximate);
            return ([.. counts.Select(pair => new KeyValuePair<string, long>(Format(pair.Key), pair.Value))], _numbers.Exact);
        }

        return (_strings!.Exact ? _strings.Top(int.MaxValue) : _strings.Top(topWhenApproximate), _strings.Exact);
    }

    public ColumnProfile ToProfile(DatasetProfileOptions options)
    {
        var numeric = _numbers is not null && _count > 0;
        IReadOnlyList<ValueCount> top = _numbers is not null
            ? [.. _numbers.Top(options.TopValues).Select(pair => new ValueCount(Format(pair.Key), pair.Value))]
            : [.. _strings!.Top(options.TopValues).Select(pair => new ValueCount(pair.Key, pair.Value))];
        var distinct = _numbers?.Distinct ?? _strings!.Distinct;
        var exact = _numbers?.Exact ?? _strings!.Exact;
        var topCount = top.Count > 0 ? top[0].Count : 0;

        IReadOnlyList<QuantileValue>? quantiles = null;
        IReadOnlyList<HistogramBin>? histogram = null;
        long? outliers = null;
        if (_sketch is { Count: > 0 })
        {
            var values = _sketch.Quantiles(QuantileProbabilities);
            quantiles = [.. QuantileProbabilities.Select((p, i) => new QuantileValue(p, values[i]))];
            histogram = Histogram(options.HistogramBins);
            outliers = Outliers(values[2], values[4]);
        }

        return new ColumnProfile(
            _column.Name,
            _column.Kind.Name(),
            _count,
            _missing,
            distinct,
            exact,
            numeric ? _min : null,
            numeric ? _max : null,
            numeric ? _mean : null,
            numeric && _count > 1 ? Math.Sqrt(_m2 / (_count - 1)) : null,
            quantiles,
            histogram,
            outliers,
            _range is null ? null : _outsideRange,
            top,
            exact,
            Constant: _count > 0 && exact && distinct == 1,
            NearConstant: _count > 0 && topCount >= options.NearConstantFraction * _count);
    }

    // Min and max are exact; the bins between them are read off the sketch's retained items, each
    // counted with its weight, so the bins add up to the column's count.
    private List<HistogramBin> Histogram(int bins)
    {
        var (values, cumulative) = _sketch!.SortedView();
        var counts = new long[bins];
        var width = (_max - _min) / bins;
        long previous = 0;
        for (var i = 0; i < values.Length; i++)
        {
            var weight = cumulative[i] - previous;
            previous = cumulative[i];
            var bin = width > 0 ? (int)((values[i] - _min) / width) : 0;
            counts[Math.Clamp(bin, 0, bins - 1)] += weight;
        }

        // The sketch's weights add up to the values it saw; this is the column's count.
        return [.. counts.Select((count, i) => new HistogramBin(
            _min + (i * width),
            i == bins - 1 ? _max : _min + ((i + 1) * width),
            count))];
    }

    private long Outliers(double q1, double q3)
    {
        var iqr = q3 - q1;
        var low = q1 - (1.5 * iqr);
        var high = q3 + (1.5 * iqr);
        var (values, cumulative) = _sketch!.SortedView();
        long outside = 0;
        long previous = 0;
        for (var i = 0; i < values.Length; i++)
        {
            if (values[i] < low || values[i] > high)
            {
                outside += cumulative[i] - previous;
            }

            previous = cumulative[i];
        }

        return outside;
    }

    private string Format(double value) => _column.Kind switch
    {
        ColumnKind.Boolean => value != 0 ? "true" : "false",
        ColumnKind.DateTime when Math.Abs(value) < 2e11 =>
            DateTimeOffset.UnixEpoch.AddSeconds(value).ToString("yyyy-MM-ddTHH:mm:ss.FFFFFFFZ", CultureInfo.InvariantCulture),
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };
}
