using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Core.Telemetry;

/// <summary>
/// Telemetry reports on their way to the cloud: each is written to the <see cref="DiskSpool"/>
/// before anything tries to send it, and leaves the spool only once the broker acknowledged the
/// batch that carried it (QoS 1). A send that fails or is interrupted leaves every report in place,
/// so the same sequence numbers go again later and the cloud, which ingests each once, counts
/// nothing twice.
/// </summary>
public sealed partial class TelemetryOutbox : IDisposable
{
    public const string DirectoryName = "telemetry-spool";

    private readonly ITelemetrySpool _spool;
    private readonly ILogger<TelemetryOutbox> _logger;

    public TelemetryOutbox(IOptions<TelemetryOptions> options, IOptions<AgentOptions> agentOptions, ILogger<TelemetryOutbox> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(agentOptions);
        _logger = logger;
        var directory = Path.Combine(agentOptions.Value.DataDirectory, DirectoryName);
        var spool = DiskSpool.Open(directory, options.Value.SpoolMaxBytes, options.Value.ShedPolicy, FirstSequence(agentOptions.Value.DataDirectory));
        _spool = spool;
        var recovery = spool.Recovery;
        LogOpened(directory, recovery.Entries, _spool.Bytes, _spool.ShedTotal);
        if (recovery.TornBytes > 0)
        {
            LogTornTail(recovery.TornBytes);
        }

        if (recovery.CursorDamaged)
        {
            LogCursorDamaged(directory);
        }
    }

    /// <summary>An outbox over a spool the host chose (one that need not be on disk).</summary>
    public TelemetryOutbox(ITelemetrySpool spool, ILogger<TelemetryOutbox> logger)
    {
        ArgumentNullException.ThrowIfNull(spool);
        _spool = spool;
        _logger = logger;
    }

    /// <summary>Reports waiting to be acknowledged.</summary>
    public long Depth => _spool.Count;

    public long Bytes => _spool.Bytes;

    /// <summary>Reports shed because the spool was full, since the device first ran.</summary>
    public long ShedTotal => _spool.ShedTotal;

    /// <summary>
    /// Gives the health report its sequence number (the spool entry's id, so sequences have no gaps
    /// but for reports shed by <see cref="ShedPolicy.DropOldest"/>), stamps it with the spool's depth
    /// and shed total and spools it durably. Returns false when the spool's policy shed this very report.
    /// </summary>
    public bool Add(TelemetryRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return Add(TelemetryEntry.Of(record with { QueueDepth = _spool.Count, QueueBytes = _spool.Bytes, ReportsShed = _spool.ShedTotal }));
    }

    /// <summary>Spools one version's and arm's perf record under the next sequence number.</summary>
    public bool Add(PerfRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return Add(TelemetryEntry.Of(record));
    }

    /// <summary>Spools one version's and arm's quality record under the next sequence number.</summary>
    public bool Add(QualityRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return Add(TelemetryEntry.Of(record));
    }

    private bool Add(TelemetryEntry entry)
    {
        var shedBefore = _spool.ShedTotal;
        bool added;
        try
        {
            added = _spool.Append(sequence => entry.WithSequence(sequence).ToJson()) is not null;
        }
        catch (ArgumentException ex)
        {
            // Larger than a spool segment (a model with very many features on a small spool): no
            // sequence was used, and the interval's other reports still go.
            LogTooLarge(entry.Kind, _spool.MaxPayloadBytes, ex.Message);
            return false;
        }

        if (_spool.ShedTotal > shedBefore)
        {
            LogShed(_spool.ShedTotal - shedBefore, _spool.ShedTotal);
        }

        return added;
    }

    /// <summary>
    /// Publishes the oldest spooled reports, one Arrow message per kind among them (health, perf,
    /// quality, each on its own topic), and removes them only once the broker acknowledged every one
    /// of those messages. Returns how many were sent: 0 when nothing is spooled, the link is down or
    /// any publish failed, in which case every report of the batch stays and goes again later (the
    /// cloud ingests each sequence once, so what did arrive is not counted twice).
    /// </summary>
    public async Task<int> SendNextBatchAsync(ICloudLink link, string deviceId, int maxReports, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(link);
        if (!link.IsConnected)
        {
            return 0;
        }

        var entries = _spool.Peek(maxReports, long.MaxValue);
        if (entries.Count == 0)
        {
            return 0;
        }

        var health = new List<TelemetryRecord>();
        var perf = new List<PerfRecord>();
        var quality = new List<QualityRecord>();
        foreach (var spooled in entries)
        {
            var entry = TelemetryEntry.FromJson(spooled.Id, spooled.Payload);
            switch (entry.Kind)
            {
                case TelemetryKinds.Health:
                    health.Add(entry.Health!);
                    break;
                case TelemetryKinds.Perf:
                    perf.Add(entry.Perf!);
                    break;
                default:
                    quality.Add(entry.Quality!);
                    break;
            }
        }

        try
        {
            if (health.Count > 0)
            {
                await link.PublishTelemetryAsync(TelemetryKinds.Health, TelemetryArrow.Serialize(deviceId, health), cancellationToken).ConfigureAwait(false);
            }

            if (perf.Count > 0)
            {
                await link.PublishTelemetryAsync(TelemetryKinds.Perf, PerfArrow.Serialize(deviceId, perf), cancellationToken).ConfigureAwait(false);
            }

            if (quality.Count > 0)
            {
                await link.PublishTelemetryAsync(TelemetryKinds.Quality, QualityArrow.Serialize(deviceId, quality), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogSendFailed(_spool.Count, ex.Message);
            return 0;
        }

        _spool.Acknowledge(entries[^1].Id);
        LogSent(entries.Count, entries[^1].Id, health.Count, perf.Count, quality.Count, _spool.Count);
        return entries.Count;
    }

    public void Dispose() => _spool.Dispose();

    /// <summary>
    /// Agents before the spool kept their next sequence in <c>telemetry.seq</c>; continuing from it
    /// keeps the cloud from taking new reports for replays of old ones.
    /// </summary>
    private static long FirstSequence(string dataDirectory)
    {
        var legacy = Path.Combine(dataDirectory, "telemetry.seq");
        return File.Exists(legacy)
            && long.TryParse(File.ReadAllText(legacy).Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var next)
            ? next
            : 1;
    }

    [LoggerMessage(EventId = 1302, Level = LogLevel.Information, Message = "Telemetry spool {Directory}: {Entries} report(s) waiting, {Bytes} bytes, {ShedTotal} shed so far")]
    private partial void LogOpened(string directory, long entries, long bytes, long shedTotal);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Warning, Message = "Telemetry spool had a torn last write ({Bytes} bytes), dropped on recovery; every whole report was kept")]
    private partial void LogTornTail(long bytes);

    [LoggerMessage(EventId = 1304, Level = LogLevel.Warning, Message = "Telemetry spool full: shed {Count} report(s), {ShedTotal} in all")]
    private partial void LogShed(long count, long shedTotal);

    [LoggerMessage(EventId = 1305, Level = LogLevel.Warning, Message = "Telemetry spool cursor in {Directory} was damaged; reports still on disk are sent again and the cloud ingests each once")]
    private partial void LogCursorDamaged(string directory);

    [LoggerMessage(EventId = 1308, Level = LogLevel.Error, Message = "A {Kind} telemetry report does not fit the spool's largest entry of {MaxBytes} bytes and was not kept; raise Telemetry:SpoolMaxBytes: {Reason}")]
    private partial void LogTooLarge(string kind, int maxBytes, string reason);

    [LoggerMessage(EventId = 1300, Level = LogLevel.Debug, Message = "Sent {Count} telemetry report(s) up to sequence {Sequence} ({Health} health, {Perf} perf, {Quality} quality); {Pending} still spooled")]
    private partial void LogSent(int count, long sequence, int health, int perf, int quality, long pending);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Telemetry not sent, {Pending} report(s) kept for later: {Reason}")]
    private partial void LogSendFailed(long pending, string reason);
}
