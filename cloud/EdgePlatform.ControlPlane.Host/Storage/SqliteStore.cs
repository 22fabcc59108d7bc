using Dapper;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Data.Sqlite;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>
/// The default store: one SQLite file in the data directory, WAL mode, migrated on open.
/// Nested documents (tags, twins, metrics) are kept as JSON columns.
/// </summary>
public sealed partial class SqliteStore : ITelemetryStore
{
    private readonly SqliteDatabase _database;

    public SqliteStore(string databasePath)
        : this(new SqliteDatabase(databasePath))
    {
    }

    public SqliteStore(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    public async Task<IReadOnlyList<DeviceTelemetrySummary>> SummarizeAsync(string? deviceId, CancellationToken cancellationToken)
    {
        await using var connection = Open();

        // Totals per device from the rollups (they outlive raw retention), joined with each device's latest report.
        var summaries = await connection.QueryAsync<TelemetryTotalsRow, TelemetryRow, DeviceTelemetrySummary>(
            new CommandDefinition(
                """
                SELECT s.DeviceId, s.Reports, s.LastSequence, s.EventsIn, s.EventsScored, s.Errors, s.DeadLettered, t.*
                FROM (
                    SELECT device_id AS DeviceId, SUM(reports) AS Reports, MAX(last_sequence) AS LastSequence,
                           SUM(events_in) AS EventsIn, SUM(events_scored) AS EventsScored, SUM(errors) AS Errors, SUM(dead_lettered) AS DeadLettered
                    FROM telemetry_minutes WHERE (@deviceId IS NULL OR device_id = @deviceId)
                    GROUP BY device_id) s
                JOIN telemetry t ON t.device_id = s.DeviceId AND t.sequence = s.LastSequence
                ORDER BY s.DeviceId
                """,
                new { deviceId },
                cancellationToken: cancellationToken),
            (total, latest) => new DeviceTelemetrySummary(
                total.DeviceId,
                total.Reports,
                total.LastSequence,
                ParseTime(latest.ReceivedAt),

                // Counters in the summary are totals over all reports; the rest is the latest report.
                latest.ToRecord() with
                {
                    EventsIn = total.EventsIn,
                    EventsScored = total.EventsScored,
                    Errors = total.Errors,
                    DeadLettered = total.DeadLettered,
                }),
            splitOn: "device_id").ConfigureAwait(false);
        return [.. summaries];
    }

    public async Task<IReadOnlyList<TelemetryRejectionCount>> ListRejectionsAsync(CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var rows = await connection.QueryAsync<RejectionRow>(new CommandDefinition(
            "SELECT * FROM telemetry_rejections ORDER BY device_id, reason", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => new TelemetryRejectionCount(r.DeviceId, r.Reason, r.Count, ParseTime(r.LastAt), r.LastDetail))];
    }

    public async Task<IReadOnlyList<TelemetryPoint>> QueryRawAsync(TelemetryFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var connection = Open();
        var rows = await connection.QueryAsync<TelemetryRow>(new CommandDefinition(
            $"""
            SELECT * FROM telemetry
            WHERE {FilterSql(filter, "ts", "model_name", "model_version")}
            ORDER BY ts, device_id, sequence LIMIT @Limit
            """,
            FilterParameters(filter),
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => new TelemetryPoint(r.DeviceId, r.Kind, ParseTime(r.ReceivedAt), r.ToRecord()))];
    }

    public async Task<IReadOnlyList<TelemetryMinute>> QueryMinutesAsync(TelemetryFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var connection = Open();

        // A range that starts mid-minute includes that minute's rollup.
        var byMinute = filter with { From = filter.From is { } from ? MinuteOf(from) : null };
        var rows = await connection.QueryAsync<MinuteRow>(new CommandDefinition(
            $"""
            SELECT * FROM telemetry_minutes
            WHERE {FilterSql(byMinute, "minute", "model_name", "model_version")}
            ORDER BY minute, device_id LIMIT @Limit
            """,
            FilterParameters(byMinute),
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToMinute())];
    }

    public async Task<long> PruneTelemetryAsync(DateTimeOffset rawBefore, DateTimeOffset rollupsBefore, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var raw = Time(rawBefore);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO telemetry_watermarks (device_id, pruned_through)
            SELECT device_id, MAX(sequence) FROM (
                SELECT device_id, sequence FROM telemetry WHERE received_at < @raw
                UNION ALL SELECT device_id, sequence FROM telemetry_perf WHERE received_at < @raw
                UNION ALL SELECT device_id, sequence FROM telemetry_quality WHERE received_at < @raw)
            GROUP BY device_id
            ON CONFLICT (device_id) DO UPDATE SET pruned_through = max(pruned_through, excluded.pruned_through)
            """,
            new { raw },
            transaction,
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        var deleted = 0L;
        foreach (var table in KindTables)
        {
            deleted += await connection.ExecuteAsync(new CommandDefinition(
                $"DELETE FROM {table} WHERE received_at < @raw", new { raw }, transaction, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }

        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM telemetry_minutes WHERE minute < @rollups; DELETE FROM telemetry_perf_minutes WHERE minute < @rollups; DELETE FROM telemetry_quality_minutes WHERE minute < @rollups",
            new { rollups = Time(rollupsBefore) },
            transaction,
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return deleted;
    }

    private static DateTimeOffset MinuteOf(DateTimeOffset value)
    {
        var utc = value.UtcDateTime;
        return new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, utc.Minute, 0, TimeSpan.Zero);
    }

    private static string FilterSql(TelemetryFilter filter, string timeColumn, string modelNameColumn, string modelVersionColumn) =>
        string.Join(
            " AND ",
            new[]
            {
                "1 = 1",
                filter.DeviceIds is null ? null : "device_id IN @DeviceIds",
                filter.ModelName is null ? null : $"{modelNameColumn} = @ModelName",
                filter.ModelVersion is null ? null : $"{modelVersionColumn} = @ModelVersion",
                filter.Arm is null ? null : "arm = @Arm",
                filter.From is null ? null : $"{timeColumn} >= @From",
                filter.To is null ? null : $"{timeColumn} < @To",
            }.Where(clause => clause is not null));

    private static object FilterParameters(TelemetryFilter filter) => new
    {
        DeviceIds = filter.DeviceIds?.ToArray() ?? [],
        filter.ModelName,
        filter.ModelVersion,
        filter.Arm,
        From = filter.From is { } from ? Time(from) : null,
        To = filter.To is { } to ? Time(to) : null,
        filter.Limit,
    };

    private SqliteConnection Open() => _database.Open();

    // Dapper materializes rows into these; snake_case columns match PascalCase properties (MatchNamesWithUnderscores).
#pragma warning disable CA1812 // Instantiated by Dapper.
    private sealed class TelemetryRow
    {
        public string DeviceId { get; set; } = "";
        public string Kind { get; set; } = "";
        public string ReceivedAt { get; set; } = "";
        public long Sequence { get; set; }
        public string Ts { get; set; } = "";
        public string? ModelName { get; set; }
        public string? ModelVersion { get; set; }
        public string? ManifestDigest { get; set; }
        public long EventsIn { get; set; }
        public long EventsScored { get; set; }
        public long Errors { get; set; }
        public long DeadLettered { get; set; }
        public double LatencyP50Ms { get; set; }
        public double LatencyP99Ms { get; set; }
        public double LatencyMaxMs { get; set; }
        public double CpuPercent { get; set; }
        public long MemoryBytes { get; set; }
        public double LatencyP95Ms { get; set; }
        public long QueueDepth { get; set; }
        public long QueueBytes { get; set; }
        public long ReportsShed { get; set; }
        public long DiskFreeBytes { get; set; }
        public long DiskTotalBytes { get; set; }
        public string? AgentVersion { get; set; }
        public string? AttestationState { get; set; }
        public long HeartbeatSeconds { get; set; }
        public long EventsDropped { get; set; }
        public long FeedbackUnmatched { get; set; }
        public long FeedbackMalformed { get; set; }

        public TelemetryRecord ToRecord() => new(
            Sequence, ParseTime(Ts), ModelName, ModelVersion, ManifestDigest, EventsIn, EventsScored, Errors, DeadLettered,
            LatencyP50Ms, LatencyP99Ms, LatencyMaxMs, CpuPercent, MemoryBytes, LatencyP95Ms, QueueDepth, QueueBytes, ReportsShed,
            DiskFreeBytes, DiskTotalBytes, AgentVersion, AttestationState, (int)HeartbeatSeconds, EventsDropped, FeedbackUnmatched, FeedbackMalformed);
    }

    private sealed class MinuteRow
    {
        public string DeviceId { get; set; } = "";
        public string Minute { get; set; } = "";
        public string ModelName { get; set; } = "";
        public string ModelVersion { get; set; } = "";
        public long Reports { get; set; }
        public long EventsIn { get; set; }
        public long EventsScored { get; set; }
        public long Errors { get; set; }
        public long DeadLettered { get; set; }
        public double LatencyP50MsMax { get; set; }
        public double LatencyP99MsMax { get; set; }
        public double LatencyMaxMs { get; set; }
        public double CpuPercentAvg { get; set; }
        public long MemoryBytesMax { get; set; }
        public long QueueDepthMax { get; set; }
        public long ReportsShedMax { get; set; }
        public long LastSequence { get; set; }

        public TelemetryMinute ToMinute() => new(
            DeviceId, ParseTime(Minute), ModelName.Length == 0 ? null : ModelName, ModelVersion.Length == 0 ? null : ModelVersion,
            Reports, EventsIn, EventsScored, Errors, DeadLettered, LatencyP50MsMax, LatencyP99MsMax, LatencyMaxMs, CpuPercentAvg,
            MemoryBytesMax, QueueDepthMax, ReportsShedMax, LastSequence);
    }

    private sealed class RejectionRow
    {
        public string DeviceId { get; set; } = "";
        public string Reason { get; set; } = "";
        public long Count { get; set; }
        public string LastAt { get; set; } = "";
        public string LastDetail { get; set; } = "";
    }

    private sealed class TelemetryTotalsRow
    {
        public string DeviceId { get; set; } = "";
        public long Reports { get; set; }
        public long LastSequence { get; set; }
        public long EventsIn { get; set; }
        public long EventsScored { get; set; }
        public long Errors { get; set; }
        public long DeadLettered { get; set; }
    }
#pragma warning restore CA1812
}
