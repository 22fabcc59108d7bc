namespace EdgePlatform.Training.Data;

/// <summary>
/// Quantiles of a stream of numbers in bounded memory: the KLL sketch (Karnin, Lang and Liberty,
/// 2016) as Apache DataSketches lays it out. Level h holds items of weight 2^h; level capacities
/// shrink by 2/3 per level down from the top, so the sketch retains O(k) items however long the
/// stream. When the sketch is full the lowest level at capacity is sorted and every other item
/// (from a random offset) is promoted one level up with twice the weight. Sketches merge by
/// concatenating levels and compacting, so partial profiles combine.
/// </summary>
/// <remarks>
/// The normalised rank error, at 99% confidence, is <see cref="RankError"/>: about 1.33% for
/// k = 200, i.e. the value reported for p50 has a true rank between 48.67% and 51.33%.
/// Counts read from the CDF over an interval (histogram bins, outliers) carry up to
/// <see cref="IntervalError"/> × n (1.65% for k = 200).
/// </remarks>
public sealed class KllSketch
{
    /// <summary>The default accuracy parameter; DataSketches' default too.</summary>
    public const int DefaultK = 200;

    private const int MinLevelWidth = 8;

    private readonly List<List<double>> _levels = [[]];
    private readonly Random _random;
    private int[] _levelCapacities = [];
    private int _capacity;
    private int _capacitySum;
    private int _retained;

    public KllSketch(int k = DefaultK, int seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, MinLevelWidth);
        K = k;
        _random = new Random(seed);
        _capacity = TotalCapacity();
    }

    public int K { get; }

    /// <summary>Values added (including merged sketches' values).</summary>
    public long Count { get; private set; }

    /// <summary>Items the sketch holds now: its memory, in doubles.</summary>
    public int Retained => _retained;

    /// <summary>Normalised rank error of a quantile at 99% confidence (DataSketches' fit: 2.296 / k^0.9723).</summary>
    public double RankError => NormalizedRankError(K);

    /// <summary>Error of the fraction of values in an interval, as a histogram bin reads it, at 99% confidence (2.446 / k^0.9433).</summary>
    public double IntervalError => 2.446 / Math.Pow(K, 0.9433);

    public static double NormalizedRankError(int k) => 2.296 / Math.Pow(k, 0.9723);

    public void Add(double value)
    {
        if (double.IsNaN(value))
        {
            return;
        }

        _levels[0].Add(value);
        _retained++;
        Count++;
        if (_retained > _capacity)
        {
            CompactOnce();
        }
    }

    /// <summary>Adds every value the other sketch summarised; the other sketch is unchanged.</summary>
    public void Merge(KllSketch other)
    {
        ArgumentNullException.ThrowIfNull(other);
        while (_levels.Count < other._levels.Count)
        {
            _levels.Add([]);
        }

        for (var h = 0; h < other._levels.Count; h++)
        {
            _levels[h].AddRange(other._levels[h]);
        }

        _retained += other._retained;
        Count += other.Count;
        _capacity = TotalCapacity();
        while (_retained > _capacity)
        {
            CompactOnce();
        }
    }

    /// <summary>The retained items with their weights, sorted by value: the sketch's approximation of the sorted stream.</summary>
    public (double[] Values, long[] CumulativeWeights) SortedView()
    {
        var values = new double[_retained];
        var weights = new long[_retained];
        var i = 0;
        for (var h = 0; h < _levels.Count; h++)
        {
            foreach (var value in _levels[h])
            {
                values[i] = value;
                weights[i] = 1L << h;
                i++;
            }
        }

        Array.Sort(values, weights);
        for (var j = 1; j < weights.Length; j++)
        {
            weights[j] += weights[j - 1];
        }

        return (values, weights);
    }

    /// <summary>The value at probability <paramref name="p"/> (0..1); NaN when the sketch is empty.</summary>
    public double Quantile(double p) => Quantiles([p])[0];

    public double[] Quantiles(IReadOnlyList<double> probabilities)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        var result = new double[probabilities.Count];
        if (_retained == 0)
        {
            Array.Fill(result, double.NaN);
            return result;
        }

        var (values, cumulative) = SortedView();
        var total = cumulative[^1];
        for (var q = 0; q < probabilities.Count; q++)
        {
            // The first item whose cumulative weight reaches p of the total: the inclusive quantile.
            var target = Math.Max(1, (long)Math.Ceiling(probabilities[q] * total));
            var index = Array.BinarySearch(cumulative, target);
            index = index >= 0 ? index : ~index;
            result[q] = values[Math.Min(index, values.Length - 1)];
        }

        return result;
    }

    /// <summary>Estimated fraction of values strictly below <paramref name="value"/>.</summary>
    public double Rank(double value)
    {
        if (_retained == 0)
        {
            return double.NaN;
        }

        long below = 0;
        for (var h = 0; h < _levels.Count; h++)
        {
            foreach (var item in _levels[h])
            {
                if (item < value)
                {
                    below += 1L << h;
                }
            }
        }

        return (double)below / WeightTotal();
    }

    private long WeightTotal()
    {
        long total = 0;
        for (var h = 0; h < _levels.Count; h++)
        {
            total += (long)_levels[h].Count << h;
        }

        return total;
    }

    private int LevelCapacity(int level) => _levelCapacities[level];

    // Recomputed only when a level is added: the top level holds k, each one below 2/3 of the one above.
    private int TotalCapacity()
    {
        if (_levelCapacities.Length != _levels.Count)
        {
            _levelCapacities = new int[_levels.Count];
            for (var h = 0; h < _levels.Count; h++)
            {
                _levelCapacities[h] = Math.Max(MinLevelWidth, (int)Math.Ceiling(K * Math.Pow(2.0 / 3.0, _levels.Count - 1 - h)));
            }

            // Level 0 holds items at weight 1, exact: a buffer of k of them costs at most k
            // doubles and no accuracy, and turns many tiny sorts into one sort of k items per k/2 values.
            _levelCapacities[0] = Math.Max(_levelCapacities[0], K);
            _capacitySum = _levelCapacities.Sum();
        }

        return _capacitySum;
    }

    private void CompactOnce()
    {
        var level = 0;
        while (level < _levels.Count - 1 && _levels[level].Count < LevelCapacity(level))
        {
            level++;
        }

        if (level == _levels.Count - 1)
        {
            _levels.Add([]);
            _capacity = TotalCapacity();
        }

        // Levels above 0 are kept sorted (they only ever receive merged sorted runs); level 0 is
        // the unsorted input buffer.
        var items = _levels[level];
        if (level == 0)
        {
            items.Sort();
        }

        // An odd item stays behind at its weight, so the total weight is kept exactly.
        var held = items.Count % 2 == 1 ? items[^1] : (double?)null;
        var pairs = items.Count / 2;
        var offset = _random.Next(2);
        _levels[level + 1] = MergeEveryOther(items, pairs, offset, _levels[level + 1]);
        items.Clear();
        if (held is { } value)
        {
            items.Add(value);
        }

        _retained -= pairs;
        _capacity = TotalCapacity();
    }

    // Every other one of the first 2·pairs sorted items, merged with the sorted level above.
    private static List<double> MergeEveryOther(List<double> items, int pairs, int offset, List<double> above)
    {
        var merged = new List<double>(pairs + above.Count);
        var a = 0;
        var i = 0;
        while (i < pairs && a < above.Count)
        {
            var promoted = items[(2 * i) + offset];
            if (promoted <= above[a])
            {
                merged.Add(promoted);
                i++;
            }
            else
            {
                merged.Add(above[a++]);
            }
        }

        for (; i < pairs; i++)
        {
            merged.Add(items[(2 * i) + offset]);
        }

        for (; a < above.Count; a++)
        {
            merged.Add(above[a]);
        }

        return merged;
    }
}
