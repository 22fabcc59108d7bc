using System.Text.Json;
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

    private readonly DiskSpool _spool;
    private readonly ILogger<TelemetryOutbox> _logger;

    public TelemetryOutbox(IOptions<TelemetryOptions> options, IOptions<AgentOptions> agentOptions, ILogger<TelemetryOutbox> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(agentOptions);
        _logger = logger;
        var directory = Path.Combine(agentOptions.Value.DataDirectory, DirectoryName);
        _spool = DiskSpool.Open(directory, options.Value.SpoolMaxBytes, options.Value.ShedPolicy, FirstSequence(agentOptions.Value.DataDirectory));
        var recovery = _spool.Recovery;
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

    /// <summary>Reports waiting to be acknowledged.</summary>
    public long Depth => _spool.Count;

    public long Bytes => _spool.Bytes;

    /// <summary>Reports shed because the spool was full, since the device first ran.</summary>
    public long ShedTotal => _spool.ShedTotal;

    /// <summary>
    /// Gives the report its sequence number (the spool entry's id, so sequences have no gaps but
    /// for reports shed by <see cref="ShedPolicy.DropOldest"/>), stamps it with the spool's depth and
    /// shed total and spools it durably. Returns false when the spool's policy shed this very report.
    /// </summary>
    public bool Add(TelemetryRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var stamped = record with { QueueDepth = _spool.Count, QueueBytes = _spool.Bytes, ReportsShed = _spool.ShedTotal };
        var shedBefore = _spool.ShedTotal;
        var added = _spool.Append(sequence => JsonSerializer.SerializeToUtf8Bytes(stamped with { Sequence = sequence }, ContractsJsonContext.Default.TelemetryRecord)) is not null;
        if (_spool.ShedTotal > shedBefore)
        {
            LogShed(_spool.ShedTotal - shedBefore, _spool.ShedTotal);
        }

        return added;
    }

    /// <summary>
    /// Publishes the oldest spooled reports as one batch and removes them once the broker
    /// acknowledged it. Returns how many were sent: 0 when nothing is spooled, the link is down or
    /// the publish failed (the reports stay).
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

        var records = new List<TelemetryRecord>(entries.Count);
        foreach (var entry in entries)
        {
            records.Add(JsonSerializer.Deserialize(entry.Payload, ContractsJsonContext.Default.TelemetryRecord)
                ?? throw new InvalidDataException($"telemetry spool entry {entry.Id} holds no report"));
        }

        try
        {
            await link.PublishTelemetryAsync(TelemetryKinds.Health, TelemetryArrow.Serialize(deviceId, records), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogSendFailed(_spool.Count, ex.Message);
            return 0;
        }

        _spool.Acknowledge(entries[^1].Id);
        LogSent(records.Count, records[^1].Sequence, _spool.Count);
        return records.Count;
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

    [LoggerMessage(EventId = 1300, Level = LogLevel.Debug, Message = "Sent {Count} telemetry report(s) up to sequence {Sequence}; {Pending} still spooled")]
    private partial void LogSent(int count, long sequence, long pending);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Telemetry not sent, {Pending} report(s) kept for later: {Reason}")]
    private partial void LogSendFailed(long pending, string reason);
}
