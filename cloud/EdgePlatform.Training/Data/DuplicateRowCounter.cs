namespace EdgePlatform.Training.Data;

/// <summary>
/// Counts rows equal to an earlier row by their 64-bit hashes (<see cref="ValueHash"/>; two distinct
/// rows collide with probability about n² / 2^65, under 10^-6 for five million rows). Exact while at
/// most <see cref="ExactLimit"/> distinct rows were seen, in an open-addressing table of at most
/// 2^24 slots (192 MiB with the per-row counts). Past that it keeps only hashes below a threshold
/// that halves whenever the table fills again, a consistent sample (every copy of a row has the
/// same hash, so all of them are kept or none), and scales the sample's duplicates up by the rate.
/// </summary>
internal sealed class DuplicateRowCounter
{
    public const int DefaultExactLimit = 8_000_000;
    private const int InitialSlots = 1 << 16;

    private readonly int _exactLimit;
    private ulong[] _hashes = new ulong[InitialSlots];
    private uint[] _counts = new uint[InitialSlots];
    private int _stored;
    private int _sampleLevel;
    private long _sampledDuplicates;

    public DuplicateRowCounter(int exactLimit = DefaultExactLimit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(exactLimit, 1);
        _exactLimit = exactLimit;
    }

    public int ExactLimit => _exactLimit;

    public bool Exact => _sampleLevel == 0;

    /// <summary>Duplicate rows: exact, or the sample's count scaled by the sampling rate.</summary>
    public long Duplicates => _sampledDuplicates << _sampleLevel;

    public void Add(ulong rowHash)
    {
        // 0 marks an empty slot.
        var hash = rowHash == 0 ? 1 : rowHash;
        if (_sampleLevel > 0 && (hash >> (64 - _sampleLevel)) != 0)
        {
            return;
        }

        var mask = _hashes.Length - 1;
        var slot = (int)hash & mask;
        while (_hashes[slot] != 0)
        {
            if (_hashes[slot] == hash)
            {
                _counts[slot]++;
                _sampledDuplicates++;
                return;
            }

            slot = (slot + 1) & mask;
        }

        _hashes[slot] = hash;
        _counts[slot] = 1;
        _stored++;
        if (_stored > _exactLimit)
        {
            _sampleLevel++;
            Rebuild(_hashes.Length);
        }
        else if (_stored > _hashes.Length / 2)
        {
            Rebuild(_hashes.Length * 2);
        }
    }

    // Moves the kept hashes into a table of `slots`, dropping those the sample no longer keeps.
    private void Rebuild(int slots)
    {
        var oldHashes = _hashes;
        var oldCounts = _counts;
        _hashes = new ulong[slots];
        _counts = new uint[slots];
        _stored = 0;
        _sampledDuplicates = 0;
        var mask = slots - 1;
        for (var i = 0; i < oldHashes.Length; i++)
        {
            var hash = oldHashes[i];
            if (hash == 0 || (_sampleLevel > 0 && (hash >> (64 - _sampleLevel)) != 0))
            {
                continue;
            }

            var slot = (int)hash & mask;
            while (_hashes[slot] != 0)
            {
                slot = (slot + 1) & mask;
            }

            _hashes[slot] = hash;
            _counts[slot] = oldCounts[i];
            _stored++;
            _sampledDuplicates += oldCounts[i] - 1;
        }
    }
}
