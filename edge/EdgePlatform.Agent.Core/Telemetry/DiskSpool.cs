using System.Buffers.Binary;
using System.Globalization;
using EdgePlatform.Agent.Core.Ports;

namespace EdgePlatform.Agent.Core.Telemetry;

/// <summary>What the queue does with old entries when a new one would exceed its byte bound.</summary>
public enum ShedPolicy
{
    /// <summary>Drop the oldest segment's entries to make room: recent health matters most.</summary>
    DropOldest,

    /// <summary>Keep what is queued and drop the new entry: the earliest history is kept whole.</summary>
    DropNewest,
}

/// <summary>One queued entry: its queue id (increasing, never reused) and its bytes.</summary>
public sealed record SpoolEntry(long Id, byte[] Payload);

/// <summary>What opening the queue found on disk.</summary>
public sealed record SpoolRecovery(long Entries, long TornBytes, int Segments, bool CursorDamaged);

/// <summary>
/// A disk-backed FIFO bounded in bytes: an append-only log of segment files plus a cursor.
/// <para>
/// Record layout, little-endian: <c>int32 length | uint32 crc32(id ‖ payload) | int64 id | payload</c>.
/// Segment files are named by the id of their first record. The cursor file holds the highest
/// id that has left the queue (acknowledged or shed) and the total shed so far; it is replaced
/// atomically (write, fsync, rename).
/// </para>
/// <para>
/// Durability: every append is flushed to the device (fsync) before <c>Append</c>
/// returns, and the cursor is fsynced before segments are deleted. A process killed at any
/// point (kill -9) leaves at worst a torn last record, which opening the queue detects by its
/// length or checksum and truncates; every record before it is kept. An entry leaves the
/// queue only through <see cref="Acknowledge"/> or by shedding, never by a failed send.
/// </para>
/// <para>
/// Bound: the sum of segment file sizes stays within <c>maxBytes</c>. Acknowledged records
/// still occupy their segment until the whole segment is acknowledged, so the bound is on
/// disk use, not on live entries. Shedding under <see cref="ShedPolicy.DropOldest"/> removes
/// the oldest whole segment (at most an eighth of the bound) at a time.
/// </para>
/// </summary>
public sealed class DiskSpool : ITelemetrySpool
{
    public const long MinimumBytes = 64 * 1024;

    private const int HeaderBytes = 16;
    private const string SegmentExtension = ".log";
    private const string CursorFileName = "cursor";
    private const int CursorBytes = 20;

    private readonly Lock _gate = new();
    private readonly string _directory;
    private readonly long _maxBytes;
    private readonly int _segmentBytes;
    private readonly ShedPolicy _policy;
    private readonly LinkedList<Segment> _segments = new();
    private readonly LinkedList<IndexEntry> _entries = new();
    private FileStream? _active;
    private long _removedUpTo;
    private long _shedTotal;
    private long _nextId;
    private long _bytes;
    private bool _disposed;
    private bool _cursorDamaged;

    private DiskSpool(string directory, long maxBytes, ShedPolicy policy)
    {
        _directory = directory;
        _maxBytes = maxBytes;
        _policy = policy;
        _segmentBytes = (int)Math.Clamp(maxBytes / 8, 16 * 1024, 4 * 1024 * 1024);
    }

    /// <summary>Live entries: appended, neither acknowledged nor shed.</summary>
    public long Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Bytes the queue's segment files take on disk.</summary>
    public long Bytes
    {
        get
        {
            lock (_gate)
            {
                return _bytes;
            }
        }
    }

    /// <summary>Entries shed since the queue was created, kept across restarts.</summary>
    public long ShedTotal
    {
        get
        {
            lock (_gate)
            {
                return _shedTotal;
            }
        }
    }

    /// <summary>The largest payload one entry may have.</summary>
    public int MaxPayloadBytes => _segmentBytes - HeaderBytes;

    public SpoolRecovery Recovery { get; private set; } = new(0, 0, 0, false);

    /// <summary>
    /// Opens the queue in <paramref name="directory"/>, creating it, and recovers from a torn tail.
    /// Ids continue after every id the queue ever held, and start no lower than <paramref name="firstId"/>.
    /// </summary>
    public static DiskSpool Open(string directory, long maxBytes, ShedPolicy policy, long firstId = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (maxBytes < MinimumBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(maxBytes), maxBytes, $"the queue bound must be at least {MinimumBytes} bytes");
        }

        Directory.CreateDirectory(directory);
        var queue = new DiskSpool(directory, maxBytes, policy);
        queue.Load();
        queue._nextId = Math.Max(queue._nextId, firstId);
        return queue;
    }

    /// <summary>
    /// Appends an entry, durably. Returns its id, or null when <see cref="ShedPolicy.DropNewest"/>
    /// shed it because the queue is full (counted in <see cref="ShedTotal"/>).
    /// </summary>
    public long? Append(ReadOnlySpan<byte> payload)
    {
        var copy = payload.ToArray();
        return Append(_ => copy);
    }

    /// <summary>
    /// Appends an entry whose bytes depend on the id it gets (a sequence number carried inside),
    /// allocating the id and writing the entry as one step: no id is ever skipped or reused.
    /// </summary>
    public long? Append(Func<long, byte[]> payloadForId)
    {
        ArgumentNullException.ThrowIfNull(payloadForId);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return AppendLocked(payloadForId);
        }
    }

    private long? AppendLocked(Func<long, byte[]> payloadForId)
    {
        var payload = payloadForId(_nextId);
        if (payload.Length > MaxPayloadBytes)
        {
            throw new ArgumentException($"an entry of {payload.Length} bytes exceeds the queue's largest entry of {MaxPayloadBytes} bytes", nameof(payloadForId));
        }

        var recordBytes = HeaderBytes + payload.Length;
        if (!MakeRoom(recordBytes))
        {
            _shedTotal++;
            WriteCursor();
            return null;
        }

        if (_active is null || _segments.Last!.Value.Length + recordBytes > _segmentBytes)
        {
            StartSegment(_nextId);
        }

        var id = _nextId++;
        var record = new byte[recordBytes];
        BinaryPrimitives.WriteInt32LittleEndian(record, payload.Length);
        BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(8), id);
        payload.CopyTo(record.AsSpan(HeaderBytes));
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(4), Crc32.Compute(record.AsSpan(8)));

        var segment = _segments.Last!.Value;
        var offset = segment.Length;
        _active!.Write(record);
        _active.Flush(flushToDisk: true);
        segment.Length += recordBytes;
        segment.LastId = id;
        _bytes += recordBytes;
        _entries.AddLast(new IndexEntry(id, segment, offset + HeaderBytes, payload.Length));
        return id;
    }

    /// <summary>The oldest live entries, in order, up to a count and a total payload size (at least one entry when any).</summary>
    public IReadOnlyList<SpoolEntry> Peek(int maxCount, long maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxCount);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var result = new List<SpoolEntry>();
            long total = 0;
            foreach (var entry in _entries)
            {
                if (result.Count >= maxCount || (result.Count > 0 && total + entry.Length > maxBytes))
                {
                    break;
                }

                var payload = new byte[entry.Length];
                using (var handle = File.OpenHandle(entry.Segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
                {
                    var read = 0;
                    while (read < payload.Length)
                    {
                        var n = RandomAccess.Read(handle, payload.AsSpan(read), entry.Offset + read);
                        if (n == 0)
                        {
                            throw new IOException($"queue segment '{entry.Segment.Path}' ends before entry {entry.Id}");
                        }

                        read += n;
                    }
                }

                result.Add(new SpoolEntry(entry.Id, payload));
                total += entry.Length;
            }

            return result;
        }
    }

    /// <summary>
    /// Removes every entry up to and including <paramref name="upToId"/>: call it only once the
    /// receiver acknowledged them. The cursor is durable before this returns.
    /// </summary>
    public void Acknowledge(long upToId)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (upToId <= _removedUpTo)
            {
                return;
            }

            if (upToId >= _nextId)
            {
                throw new ArgumentOutOfRangeException(nameof(upToId), upToId, $"no entry {upToId} was appended (next id is {_nextId})");
            }

            while (_entries.First is { } first && first.Value.Id <= upToId)
            {
                _entries.RemoveFirst();
            }

            _removedUpTo = upToId;
            WriteCursor();
            DeleteDeadSegments();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _active?.Dispose();
            _active = null;
        }
    }

    private bool MakeRoom(int recordBytes)
    {
        while (_bytes + recordBytes > _maxBytes)
        {
            if (_policy == ShedPolicy.DropNewest)
            {
                return false;
            }

            // The oldest segment goes whole; the active one is never the only one over the bound,
            // since a segment is at most an eighth of it.
            var oldest = _segments.First!.Value;
            var shed = 0;
            while (_entries.First is { } first && first.Value.Segment == oldest)
            {
                _entries.RemoveFirst();
                shed++;
            }

            _shedTotal += shed;
            _removedUpTo = Math.Max(_removedUpTo, oldest.LastId);
            WriteCursor();
            if (ReferenceEquals(oldest, _segments.Last!.Value))
            {
                _active?.Dispose();
                _active = null;
            }

            RemoveSegment(oldest);
        }

        return true;
    }

    private void StartSegment(long firstId)
    {
        _active?.Dispose();
        var path = Path.Combine(_directory, firstId.ToString("D19", CultureInfo.InvariantCulture) + SegmentExtension);
        _active = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        _segments.AddLast(new Segment(path, firstId) { LastId = firstId - 1 });
    }

    private void DeleteDeadSegments()
    {
        while (_segments.First is { } first && first.Value.LastId <= _removedUpTo && first.Value.LastId >= first.Value.FirstId)
        {
            if (ReferenceEquals(first, _segments.Last))
            {
                // The active segment is fully acknowledged: start the next append in a new file.
                _active?.Dispose();
                _active = null;
            }

            RemoveSegment(first.Value);
        }
    }

    private void RemoveSegment(Segment segment)
    {
        File.Delete(segment.Path);
        _bytes -= segment.Length;
        _segments.Remove(segment);
    }

    private void Load()
    {
        ReadCursor();
        var files = Directory.GetFiles(_directory, "*" + SegmentExtension)
            .Select(path => (Path: path, FirstId: long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : -1))
            .Where(f => f.FirstId >= 0)
            .OrderBy(f => f.FirstId)
            .ToList();

        long lastId = 0;
        long tornBytes = 0;
        foreach (var (path, firstId) in files)
        {
            var bytes = File.ReadAllBytes(path);
            var segment = new Segment(path, firstId) { LastId = firstId - 1 };
            var offset = 0;
            var segmentEntries = new List<IndexEntry>();
            while (TryReadRecord(bytes, offset, lastId, out var id, out var length))
            {
                if (id > _removedUpTo)
                {
                    segmentEntries.Add(new IndexEntry(id, segment, offset + HeaderBytes, length));
                }

                segment.LastId = id;
                lastId = id;
                offset += HeaderBytes + length;
            }

            if (offset < bytes.Length)
            {
                // A torn or damaged tail: everything from the first bad record on is dropped.
                tornBytes += bytes.Length - offset;
                using var truncate = new FileStream(path, FileMode.Open, FileAccess.Write);
                truncate.SetLength(offset);
                truncate.Flush(flushToDisk: true);
            }

            segment.Length = offset;
            if (offset == 0 || segment.LastId <= _removedUpTo)
            {
                File.Delete(path);
                continue;
            }

            _segments.AddLast(segment);
            _bytes += offset;
            foreach (var entry in segmentEntries)
            {
                _entries.AddLast(entry);
            }
        }

        _nextId = Math.Max(lastId, _removedUpTo) + 1;
        if (_segments.Last is { } tail && tail.Value.Length < _segmentBytes)
        {
            _active = new FileStream(tail.Value.Path, FileMode.Append, FileAccess.Write, FileShare.Read);
        }

        Recovery = new SpoolRecovery(_entries.Count, tornBytes, _segments.Count, _cursorDamaged);
    }

    private static bool TryReadRecord(byte[] bytes, int offset, long previousId, out long id, out int length)
    {
        id = 0;
        length = 0;
        if (bytes.Length - offset < HeaderBytes)
        {
            return false;
        }

        length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset));
        if (length < 0 || length > bytes.Length - offset - HeaderBytes)
        {
            return false;
        }

        var crc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset + 4));
        id = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(offset + 8));
        return id > previousId && crc == Crc32.Compute(bytes.AsSpan(offset + 8, 8 + length));
    }

    private string CursorPath => Path.Combine(_directory, CursorFileName);

    private void ReadCursor()
    {
        if (!File.Exists(CursorPath))
        {
            return;
        }

        var bytes = File.ReadAllBytes(CursorPath);
        if (bytes.Length != CursorBytes || BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(16)) != Crc32.Compute(bytes.AsSpan(0, 16)))
        {
            // The cursor is replaced by rename, so this is damage, not a torn write. Starting from
            // zero resends acknowledged entries still on disk, which the cloud ingests once by sequence.
            _cursorDamaged = true;
            return;
        }

        _removedUpTo = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        _shedTotal = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8));
    }

    private void WriteCursor()
    {
        var bytes = new byte[CursorBytes];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, _removedUpTo);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8), _shedTotal);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), Crc32.Compute(bytes.AsSpan(0, 16)));
        var temporary = CursorPath + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, CursorPath, overwrite: true);
    }

    private sealed class Segment(string path, long firstId)
    {
        public string Path { get; } = path;

        public long FirstId { get; } = firstId;

        public long LastId { get; set; }

        public long Length { get; set; }
    }

    private readonly record struct IndexEntry(long Id, Segment Segment, long Offset, int Length);
}
