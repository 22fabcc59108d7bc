using System.Collections.Concurrent;
using EdgePlatform.Contracts;

namespace EdgePlatform.FleetSim;

/// <summary>
/// The simulator's own account of what each device was told and what it fetched, independent of
/// the control plane's view: every desired state received, every digest downloaded (with the
/// bytes that arrived), every activation, every connection to the broker. Rollout tests prove from it which devices ever saw a
/// version, and benchmarks that no device fetched a digest twice.
/// </summary>
public sealed class FleetRecord
{
    private readonly ConcurrentDictionary<string, DeviceHistory> _devices = new(StringComparer.Ordinal);

    /// <summary>Devices that received a desired state naming <paramref name="manifestDigest"/>.</summary>
    public IReadOnlySet<string> DevicesTold(string manifestDigest) =>
        _devices.Where(d => d.Value.Told(manifestDigest)).Select(d => d.Key).ToHashSet(StringComparer.Ordinal);

    /// <summary>Devices that downloaded any bytes of <paramref name="digest"/> (a manifest or a blob).</summary>
    public IReadOnlySet<string> DevicesThatDownloaded(string digest) =>
        _devices.Where(d => d.Value.Downloads.ContainsKey(digest)).Select(d => d.Key).ToHashSet(StringComparer.Ordinal);

    /// <summary>When <paramref name="deviceId"/> first received a desired state naming <paramref name="manifestDigest"/>, if ever.</summary>
    public DateTimeOffset? FirstTold(string deviceId, string manifestDigest) =>
        _devices.TryGetValue(deviceId, out var history) ? history.FirstTold(manifestDigest) : null;

    /// <summary>Complete downloads of <paramref name="digest"/> by <paramref name="deviceId"/>: one per digest, never two.</summary>
    public int Downloads(string deviceId, string digest) =>
        _devices.TryGetValue(deviceId, out var history) && history.Downloads.TryGetValue(digest, out var download) ? download.Completed : 0;

    /// <summary>(device, digest) pairs fetched completely more than once; empty when every digest came once per device.</summary>
    public IReadOnlyList<(string DeviceId, string Digest, int Times)> RepeatedDownloads() =>
        [.. _devices.SelectMany(d => d.Value.Downloads.Where(x => x.Value.Completed > 1).Select(x => (d.Key, x.Key, x.Value.Completed)))];

    /// <summary>Bytes that arrived for downloads, over the fleet.</summary>
    public long BytesDownloaded => _devices.Values.Sum(d => d.Downloads.Values.Sum(x => Interlocked.Read(ref x.Bytes)));

    /// <summary>Complete downloads over the fleet, manifests and blobs.</summary>
    public long CompletedDownloads => _devices.Values.Sum(d => d.Downloads.Values.Sum(x => (long)x.Completed));

    /// <summary>Desired states received over the fleet.</summary>
    public long DesiredStatesReceived => _devices.Values.Sum(d => (long)d.DesiredCount);

    /// <summary>When <paramref name="deviceId"/>'s link to the broker came up: its first connection, then every reconnect, in order.</summary>
    public IReadOnlyList<DateTimeOffset> ConnectedAt(string deviceId) =>
        _devices.TryGetValue(deviceId, out var history) ? history.Connections.ToArray() : [];

    /// <summary>When <paramref name="deviceId"/>'s link began each try to connect to the broker, failed or not, in order.</summary>
    public IReadOnlyList<DateTimeOffset> AttemptedAt(string deviceId) =>
        _devices.TryGetValue(deviceId, out var history) ? history.Attempts.ToArray() : [];

    internal void Connected(string deviceId, DateTimeOffset at) => History(deviceId).Connections.Add(at);

    internal void Attempted(string deviceId, DateTimeOffset at) => History(deviceId).Attempts.Add(at);

    internal void Told(string deviceId, DesiredState desired, DateTimeOffset at) =>
        History(deviceId).AddDesired(desired.Version, desired.Deployment?.Model, at);

    internal DownloadCounter Download(string deviceId, string digest) =>
        History(deviceId).Downloads.GetOrAdd(digest, _ => new DownloadCounter());

    private DeviceHistory History(string deviceId) => _devices.GetOrAdd(deviceId, _ => new DeviceHistory());

    private sealed class DeviceHistory
    {
        private readonly List<(long Version, string? ManifestDigest, DateTimeOffset At)> _desired = [];

        public ConcurrentDictionary<string, DownloadCounter> Downloads { get; } = new(StringComparer.Ordinal);

        public int DesiredCount
        {
            get
            {
                lock (_desired)
                {
                    return _desired.Count;
                }
            }
        }

        public void AddDesired(long version, ModelReference? model, DateTimeOffset at)
        {
            lock (_desired)
            {
                _desired.Add((version, model?.ManifestDigest, at));
            }
        }

        public TimeLog Connections { get; } = new();

        public TimeLog Attempts { get; } = new();

        public bool Told(string manifestDigest) => FirstTold(manifestDigest) is not null;

        public DateTimeOffset? FirstTold(string manifestDigest)
        {
            lock (_desired)
            {
                foreach (var entry in _desired)
                {
                    if (string.Equals(entry.ManifestDigest, manifestDigest, StringComparison.Ordinal))
                    {
                        return entry.At;
                    }
                }
            }

            return null;
        }
    }
}

/// <summary>Bytes of one digest that arrived at one device, and how often it arrived whole.</summary>
internal sealed class DownloadCounter
{
    public long Bytes;
    private int _completed;

    public int Completed => Volatile.Read(ref _completed);

    public void Add(long bytes) => Interlocked.Add(ref Bytes, bytes);

    public void Complete() => Interlocked.Increment(ref _completed);
}

/// <summary>Instants appended from any thread, read back in order.</summary>
internal sealed class TimeLog
{
    private readonly List<DateTimeOffset> _at = [];

    public void Add(DateTimeOffset at)
    {
        lock (_at)
        {
            _at.Add(at);
        }
    }

    public DateTimeOffset[] ToArray()
    {
        lock (_at)
        {
            return [.. _at];
        }
    }
}
