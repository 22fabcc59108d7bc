using System.Numerics;

namespace EdgePlatform.Training.Data;

/// <summary>
/// <see cref="ValueCounter{T}"/>'s contract for numbers, on an open-addressing table of the values'
/// bits with the caller's hash as the slot, so the approximate phase (a miss for nearly every value
/// of a continuous column) costs a probe and an insert, not a dictionary's allocations. Exact up to
/// <c>exactLimit</c> distinct values; then a <see cref="HyperLogLog"/> and Misra-Gries with
/// <c>counters</c> counters, reduced by quickselect whenever 2·counters values are held.
/// </summary>
internal sealed class NumberCounter
{
    private readonly int _exactLimit;
    private readonly int _counters;
    private ulong[] _keys;
    private ulong[] _hashes;
    private long[] _counts;
    private int _held;
    private HyperLogLog? _distinct;
    private long[] _scratch = [];

    public NumberCounter(int exactLimit, int counters)
    {
        _exactLimit = exactLimit;
        _counters = counters;
        _keys = new ulong[64];
        _hashes = new ulong[64];
        _counts = new long[64];
    }

    public bool Exact => _distinct is null;

    public long MaxUndercount { get; private set; }

    public long Distinct => _distinct is null ? _held : Math.Max(_distinct.Estimate(), _exactLimit + 1L);

    /// <summary>Counts <paramref name="value"/> (finite, -0.0 already folded into 0.0) whose <see cref="ValueHash"/> is <paramref name="hash"/>.</summary>
    public void Add(double value, ulong hash)
    {
        _distinct?.Add(hash);
        var key = (ulong)BitConverter.DoubleToInt64Bits(value);
        var mask = _keys.Length - 1;
        var slot = (int)hash & mask;
        while (_counts[slot] != 0)
        {
            if (_keys[slot] == key)
            {
                _counts[slot]++;
                return;
            }

            slot = (slot + 1) & mask;
        }

        _keys[slot] = key;
        _hashes[slot] = hash;
        _counts[slot] = 1;
        _held++;
        if (_distinct is null)
        {
            if (_held > _exactLimit)
            {
                _distinct = new HyperLogLog();
                for (var i = 0; i < _keys.Length; i++)
                {
                    if (_counts[i] != 0)
                    {
                        _distinct.Add(_hashes[i]);
                    }
                }

                Reduce();
            }
            else if (_held * 2 > _keys.Length)
            {
                Rehash(_keys.Length * 2);
            }
        }
        else if (_held > 2 * _counters)
        {
            Reduce();
        }
    }

    public IReadOnlyList<KeyValuePair<double, long>> Top(int top)
    {
        var pairs = new List<KeyValuePair<double, long>>(_held);
        for (var i = 0; i < _keys.Length; i++)
        {
            if (_counts[i] != 0)
            {
                pairs.Add(new(BitConverter.Int64BitsToDouble((long)_keys[i]), _counts[i]));
            }
        }

        return [.. pairs.OrderByDescending(p => p.Value).ThenBy(p => p.Key).Take(top)];
    }

    // Misra-Gries in batches: subtract the (counters+1)-th largest count from every count, drop
    // those left at zero; at most `counters` remain.
    private void Reduce()
    {
        if (_held <= _counters)
        {
            return;
        }

        if (_scratch.Length < _held)
        {
            _scratch = new long[_held];
        }

        var n = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            if (_counts[i] != 0)
            {
                _scratch[n++] = _counts[i];
            }
        }

        var cut = LargestAt(_scratch.AsSpan(0, n), _counters + 1);
        MaxUndercount += cut;
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] = _counts[i] > cut ? _counts[i] - cut : 0;
        }

        // Room for 2·counters values at a load of at most one half.
        Rehash((int)BitOperations.RoundUpToPowerOf2((uint)(4 * _counters + 2)));
    }

    private void Rehash(int slots)
    {
        var keys = _keys;
        var hashes = _hashes;
        var counts = _counts;
        _keys = new ulong[slots];
        _hashes = new ulong[slots];
        _counts = new long[slots];
        _held = 0;
        var mask = slots - 1;
        for (var i = 0; i < keys.Length; i++)
        {
            if (counts[i] == 0)
            {
                continue;
            }

            var slot = (int)hashes[i] & mask;
            while (_counts[slot] != 0)
            {
                slot = (slot + 1) & mask;
            }

            _keys[slot] = keys[i];
            _hashes[slot] = hashes[i];
            _counts[slot] = counts[i];
            _held++;
        }
    }

    /// <summary>The <paramref name="rank"/>-th largest value (1-based) by quickselect; reorders <paramref name="values"/>.</summary>
    private static long LargestAt(Span<long> values, int rank)
    {
        var target = values.Length - rank;
        int low = 0, high = values.Length - 1;
        while (low < high)
        {
            var pivot = values[low + ((high - low) / 2)];
            int i = low, j = high;
            while (i <= j)
            {
                while (values[i] < pivot)
                {
                    i++;
                }

                while (values[j] > pivot)
                {
                    j--;
                }

                if (i <= j)
                {
                    (values[i], values[j]) = (values[j], values[i]);
                    i++;
                    j--;
                }
            }

            if (target <= j)
            {
                high = j;
            }
            else if (target >= i)
            {
                low = i;
            }
            else
            {
                return values[target];
            }
        }

        return values[target];
    }
}
