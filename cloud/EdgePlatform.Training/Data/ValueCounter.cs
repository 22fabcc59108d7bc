namespace EdgePlatform.Training.Data;

/// <summary>
/// Distinct count and most frequent values of one column in bounded memory. Exact while the
/// column has at most <c>exactLimit</c> distinct values (every value counted); past that the
/// distinct count moves to a <see cref="HyperLogLog"/> (seeded with every value seen so far) and
/// the counts to Misra-Gries with <c>counters</c> counters: each reported count is a lower bound,
/// short by at most <see cref="MaxUndercount"/> ≤ n / (counters + 1), and every value more
/// frequent than that is among those reported.
/// </summary>
internal sealed class ValueCounter<T>
    where T : notnull
{
    private readonly int _exactLimit;
    private readonly int _counters;
    private readonly Func<T, ulong> _hash;
    private Dictionary<T, long> _counts;
    private HyperLogLog? _distinct;

    public ValueCounter(int exactLimit, int counters, Func<T, ulong> hash, IEqualityComparer<T>? comparer = null)
    {
        _exactLimit = exactLimit;
        _counters = counters;
        _hash = hash;
        _counts = new Dictionary<T, long>(comparer);
    }

    public bool Exact => _distinct is null;

    /// <summary>How far below the truth any reported count may be; 0 while exact.</summary>
    public long MaxUndercount { get; private set; }

    public long Distinct => _distinct is null ? _counts.Count : Math.Max(_distinct.Estimate(), _exactLimit + 1L);

    /// <summary>Adds a value whose hash the caller already has (it hashes rows too).</summary>
    public void Add(T value, ulong hash)
    {
        ref var count = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_counts, value, out var existed);
        count++;
        if (existed)
        {
            if (_distinct is not null)
            {
                _distinct.Add(hash);
            }

            return;
        }

        if (_distinct is null)
        {
            if (_counts.Count > _exactLimit)
            {
                _distinct = new HyperLogLog();
                foreach (var key in _counts.Keys)
                {
                    _distinct.Add(_hash(key));
                }

                Reduce();
            }

            return;
        }

        _distinct.Add(hash);
        if (_counts.Count > 2 * _counters)
        {
            Reduce();
        }
    }

    /// <summary>The <paramref name="top"/> most frequent values, most frequent first (ties in value order for stable output).</summary>
    public IReadOnlyList<KeyValuePair<T, long>> Top(int top) =>
        [.. _counts.OrderByDescending(pair => pair.Value).ThenBy(pair => pair.Key).Take(top)];

    /// <summary>Every counted value; all of them while <see cref="Exact"/>.</summary>
    public IReadOnlyDictionary<T, long> Counts => _counts;

    // Misra-Gries in batches: subtracting the (counters+1)-th largest count from all keeps at most
    // `counters` values, and costs O(1) amortised per value since it runs once per `counters` new values.
    private void Reduce()
    {
        if (_counts.Count <= _counters)
        {
            return;
        }

        var values = _counts.Values.ToArray();
        Array.Sort(values);
        var cut = values[^(_counters + 1)];
        MaxUndercount += cut;
        var kept = new Dictionary<T, long>(2 * _counters + 1, _counts.Comparer);
        foreach (var (key, count) in _counts)
        {
            if (count > cut)
            {
                kept[key] = count - cut;
            }
        }

        _counts = kept;
    }
}
