using System.Data.Common;
using Dapper;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Telemetry;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Telemetry;

/// <summary>
/// Telemetry on either database: raw reports of each kind (columns derived from the kinds'
/// declarations), their per-minute rollups, the watermarks that keep pruned sequences refused,
/// and rejection counts. The SQL is the same on both dialects but for a few words each subclass gives.
/// </summary>
public abstract class TelemetryStore : ITelemetryStore
{
    private protected TelemetryStore(StoreDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        Database = database;
    }

    private protected StoreDatabase Database { get; }

    /// <summary>The dialect's two-argument maximum.</summary>
    private protected abstract string Greatest { get; }

    /// <summary>A condition that <paramref name="column"/> is one of the ids bound to <paramref name="parameter"/> by <see cref="IdsValue"/>.</summary>
    private protected abstract string IdsIn(string column, string parameter);

    /// <summary>A list of ids as one parameter value, however many there are.</summary>
    private protected abstract object IdsValue(IReadOnlyCollection<string> ids);

    /// <summary>A connection to write telemetry with, set up as the dialect wants for it.</summary>
    private protected virtual ValueTask<DbConnection> OpenForTelemetryWriteAsync(CancellationToken cancellationToken) => Database.OpenAsync(cancellationToken);

    /// <summary>
    /// Stores <paramref name="write"/> in <paramref name="transaction"/>, as <see cref="WriteTelemetryAsync"/>
    /// says: each dialect writes a batch its own way (one prepared statement per report on SQLite,
    /// set-based statements on PostgreSQL), with the same result.
    /// </summary>
    private protected abstract Task<IReadOnlyList<StoredTelemetry>> WriteAsync(
        DbConnection connection, DbTransaction transaction, TelemetryWrite write, CancellationToken cancellationToken);

    public async Task<IReadOnlyList<StoredTelemetry>> WriteTelemetryAsync(TelemetryWrite write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        await using var connection = await OpenForTelemetryWriteAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var stored = await WriteAsync(connection, transaction, write, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return stored;
    }

    public async Task<IReadOnlyList<DeviceTelemetrySummary>> SummarizeAsync(string? deviceId, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);

        // Totals per device from the rollups (they outlive raw retention), joined with each device's latest report.
        await using var reader = await connection.ExecuteReaderAsync(new CommandDefinition(
            """
            SELECT s.total_reports, s.total_last_sequence, s.total_events_in, s.total_events_scored, s.total_errors, s.total_dead_lettered, t.*
            FROM (
                SELECT device_id AS total_device_id, CAST(SUM(reports) AS BIGINT) AS total_reports, MAX(last_sequence) AS total_last_sequence,
                       CAST(SUM(events_in) AS BIGINT) AS total_events_in, CAST(SUM(events_scored) AS BIGINT) AS total_events_scored,
                       CAST(SUM(errors) AS BIGINT) AS total_errors, CAST(SUM(dead_lettered) AS BIGINT) AS total_dead_lettered
                FROM telemetry_minutes WHERE (@deviceId IS NULL OR device_id = @deviceId)
                GROUP BY device_id) s
            JOIN telemetry t ON t.device_id = s.total_device_id AND t.sequence = s.total_last_sequence
            ORDER BY s.total_device_id
            """,
            new { deviceId },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        var table = RawTelemetryTables.Health;
        var ordinals = table.Ordinals(reader);
        var summaries = new List<DeviceTelemetrySummary>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            // Counters in the summary are totals over all reports; the rest is the latest report.
            summaries.Add(new DeviceTelemetrySummary(
                reader.GetString(reader.GetOrdinal("device_id")),
                Long(reader, "total_reports"),
                Long(reader, "total_last_sequence"),
                ParseTime(reader.GetString(reader.GetOrdinal("received_at"))),
                table.Read(reader, ordinals) with
                {
                    EventsIn = Long(reader, "total_events_in"),
                    EventsScored = Long(reader, "total_events_scored"),
                    Errors = Long(reader, "total_errors"),
                    DeadLettered = Long(reader, "total_dead_lettered"),
                }));
        }

        return summaries;
    }

    public async Task<IReadOnlyList<TelemetryRejectionCount>> ListRejectionsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<RejectionRow>(new CommandDefinition(
            "SELECT * FROM telemetry_rejections ORDER BY device_id, reason", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => new TelemetryRejectionCount(r.DeviceId, r.Reason, r.Count, ParseTime(r.LastAt), r.LastDetail))];
    }

    public async Task<IReadOnlyList<TelemetryPoint>> QueryRawAsync(TelemetryFilter filter, CancellationToken cancellationToken)
    {
        var table = RawTelemetryTables.Health;
        return await QueryRecordsAsync(table, filter, (reader, record) => new TelemetryPoint(
            reader.GetString(reader.GetOrdinal("device_id")),
            reader.GetString(reader.GetOrdinal("kind")),
            ParseTime(reader.GetString(reader.GetOrdinal("received_at"))),
            record), cancellationToken).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<(string DeviceId, PerfRecord Record)>> QueryPerfAsync(TelemetryFilter filter, CancellationToken cancellationToken) =>
        QueryRecordsAsync(RawTelemetryTables.Perf, filter, (reader, record) => (reader.GetString(reader.GetOrdinal("device_id")), record), cancellationToken);

    public Task<IReadOnlyList<(string DeviceId, QualityRecord Record)>> QueryQualityAsync(TelemetryFilter filter, CancellationToken cancellationToken) =>
        QueryRecordsAsync(RawTelemetryTables.Quality, filter, (reader, record) => (reader.GetString(reader.GetOrdinal("device_id")), record), cancellationToken);

    public async Task<IReadOnlyList<TelemetryMinute>> QueryMinutesAsync(TelemetryFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);

        // A range that starts mid-minute includes that minute's rollup.
        var byMinute = filter with { From = filter.From is { } from ? MinuteOf(from) : null };
        var rows = await connection.QueryAsync<MinuteRow>(new CommandDefinition(
            $"""
            SELECT * FROM telemetry_minutes
            WHERE {FilterSql(byMinute, "minute")}
            ORDER BY minute, device_id LIMIT @Limit
            """,
            FilterParameters(byMinute),
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToMinute())];
    }

    public async Task<IReadOnlyList<PerfMinute>> QueryPerfMinutesAsync(TelemetryFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var byMinute = filter with { From = filter.From is { } from ? MinuteOf(from) : null };
        var rows = await connection.QueryAsync<PerfMinuteRow>(new CommandDefinition(
            $"SELECT * FROM telemetry_perf_minutes WHERE {FilterSql(byMinute, "minute")} ORDER BY minute, model_name, model_version, arm",
            FilterParameters(byMinute),
            cancellationToken: cancellationToken)).ConfigureAwait(false);

        // Devices' rollups of one minute, version and arm merge into one: counters add, histograms add.
        return [.. rows
            .GroupBy(r => (r.Minute, r.ModelName, r.ModelVersion, r.Arm))
            .Take(filter.Limit)
            .Select(g =>
            {
                var histogram = Host.Telemetry.LatencyHistograms.Merge(g.Select(r => (ReadOnlyMemory<byte>)r.LatencyHistogram));
                return new PerfMinute(
                    ParseTime(g.Key.Minute), g.Key.ModelName, g.Key.ModelVersion, g.Key.Arm, g.Select(r => r.DeviceId).Distinct(StringComparer.Ordinal).Count(),
                    g.Sum(r => r.Records), g.Sum(r => r.EventsIn), g.Sum(r => r.EventsScored), g.Sum(r => r.Errors), g.Sum(r => r.DeadLettered),
                    g.Sum(r => r.Dropped), g.Sum(r => r.Batches), histogram?.TotalCount ?? 0,
                    Host.Telemetry.LatencyHistograms.PercentileMs(histogram, 50), Host.Telemetry.LatencyHistograms.PercentileMs(histogram, 95),
                    Host.Telemetry.LatencyHistograms.PercentileMs(histogram, 99), g.Max(r => r.LatencyMaxMs));
            })];
    }

    public async Task<IReadOnlyList<QualityMinute>> QueryQualityMinutesAsync(TelemetryFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var byMinute = filter with { From = filter.From is { } from ? MinuteOf(from) : null };
        var rows = await connection.QueryAsync<(string DeviceId, string Minute, string ModelName, string ModelVersion, string Arm, string Document)>(new CommandDefinition(
            $"SELECT device_id, minute, model_name, model_version, arm, document FROM telemetry_quality_minutes WHERE {FilterSql(byMinute, "minute")} ORDER BY minute, model_name, model_version, arm, device_id",
            FilterParameters(byMinute),
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows
            .GroupBy(r => (r.Minute, r.ModelName, r.ModelVersion, r.Arm))
            .Take(filter.Limit)
            .Select(g => g.Select(r => FromJson(r.Document, ContractsJsonContext.Default.QualityMinute)).Aggregate((a, b) => QualityRollup.Combine(a, b, sameDevice: false)))];
    }

    public async Task<IReadOnlyList<TelemetryWindowTotal>> SummarizeWindowAsync(
        IReadOnlyCollection<string> deviceIds, DateTimeOffset windowStart, DateTimeOffset windowEnd, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deviceIds);
        if (deviceIds.Count == 0)
        {
            return [];
        }

        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);

        // The ids travel as one parameter: a fleet of thousands would pass SQLite's limit on parameters.
        // Sums are cast to fixed types: Dapper reads every later row with the type of the first one it
        // saw, and an expression's type in SQLite follows its value (an integer 0 where nothing was scored).
        var rows = await connection.QueryAsync<WindowRow>(new CommandDefinition(
            $"""
            SELECT device_id, model_name, model_version, COUNT(*) AS minutes, CAST(SUM(events_scored) AS BIGINT) AS events_scored, CAST(SUM(errors) AS BIGINT) AS errors,
                   CAST(CASE WHEN SUM(events_scored) > 0 THEN SUM(latency_p99_ms_max * events_scored) / SUM(events_scored) ELSE 0 END AS DOUBLE PRECISION) AS latency_p99_ms
            FROM telemetry_minutes
            WHERE {IdsIn("device_id", "@deviceIds")} AND minute >= @from AND minute < @to
            GROUP BY device_id, model_name, model_version
            ORDER BY device_id, model_name, model_version
            """,
            new
            {
                deviceIds = IdsValue(deviceIds),
                from = Time(MinuteOf(windowStart)),
                to = Time(windowEnd),
            },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => new TelemetryWindowTotal(
            r.DeviceId, r.ModelName.Length == 0 ? null : r.ModelName, r.ModelVersion.Length == 0 ? null : r.ModelVersion,
            r.Minutes, r.EventsScored, r.Errors, r.LatencyP99Ms))];
    }

    public async Task<long> PruneTelemetryAsync(DateTimeOffset rawBefore, DateTimeOffset rollupsBefore, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var raw = Time(rawBefore);
        await connection.ExecuteAsync(new CommandDefinition(
            $"""
            INSERT INTO telemetry_watermarks AS w (device_id, pruned_through)
            SELECT device_id, MAX(sequence) FROM (
                {string.Join("\nUNION ALL ", RawTelemetryTables.Names.Select(table => $"SELECT device_id, sequence FROM {table} WHERE received_at < @raw"))}) pruned
            GROUP BY device_id
            ON CONFLICT (device_id) DO UPDATE SET pruned_through = {Greatest}(w.pruned_through, excluded.pruned_through)
            """,
            new { raw },
            transaction,
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        var deleted = 0L;
        foreach (var table in RawTelemetryTables.Names)
        {
            deleted += await connection.ExecuteAsync(new CommandDefinition(
                $"DELETE FROM {table} WHERE received_at < @raw", new { raw }, transaction, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }

        foreach (var table in (string[])["telemetry_minutes", "telemetry_perf_minutes", "telemetry_quality_minutes"])
        {
            await connection.ExecuteAsync(new CommandDefinition(
                $"DELETE FROM {table} WHERE minute < @rollups", new { rollups = Time(rollupsBefore) }, transaction, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return deleted;
    }

    internal static DateTimeOffset MinuteOf(DateTimeOffset value)
    {
        var utc = value.UtcDateTime;
        return new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, utc.Minute, 0, TimeSpan.Zero);
    }

    private static long Long(DbDataReader reader, string column) =>
        Convert.ToInt64(reader.GetValue(reader.GetOrdinal(column)), System.Globalization.CultureInfo.InvariantCulture);

    private async Task<IReadOnlyList<TResult>> QueryRecordsAsync<TRecord, TResult>(
        RawTelemetryTable<TRecord> table, TelemetryFilter filter, Func<DbDataReader, TRecord, TResult> select, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var reader = await connection.ExecuteReaderAsync(new CommandDefinition(
            $"SELECT * FROM {table.Name} WHERE {FilterSql(filter, "ts")} ORDER BY ts, device_id, sequence LIMIT @Limit",
            FilterParameters(filter),
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        var ordinals = table.Ordinals(reader);
        var results = new List<TResult>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            results.Add(select(reader, table.Read(reader, ordinals)));
        }

        return results;
    }

    private string FilterSql(TelemetryFilter filter, string timeColumn) =>
        string.Join(
            " AND ",
            new[]
            {
                "1 = 1",
                filter.DeviceIds is null ? null : IdsIn("device_id", "@DeviceIds"),
                filter.ModelName is null ? null : "model_name = @ModelName",
                filter.ModelVersion is null ? null : "model_version = @ModelVersion",
                filter.Arm is null ? null : "arm = @Arm",
                filter.From is null ? null : $"{timeColumn} >= @From",
                filter.To is null ? null : $"{timeColumn} < @To",
            }.Where(clause => clause is not null));

    private DynamicParameters FilterParameters(TelemetryFilter filter)
    {
        var parameters = new DynamicParameters();
        parameters.Add("DeviceIds", IdsValue(filter.DeviceIds ?? []));
        parameters.Add("ModelName", filter.ModelName);
        parameters.Add("ModelVersion", filter.ModelVersion);
        parameters.Add("Arm", filter.Arm);
        parameters.Add("From", filter.From is { } from ? Time(from) : null);
        parameters.Add("To", filter.To is { } to ? Time(to) : null);
        parameters.Add("Limit", filter.Limit);
        return parameters;
    }

#pragma warning disable CA1812 // Instantiated by Dapper.
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

    private sealed class PerfMinuteRow
    {
        public string DeviceId { get; set; } = "";
        public string Minute { get; set; } = "";
        public string ModelName { get; set; } = "";
        public string ModelVersion { get; set; } = "";
        public string Arm { get; set; } = "";
        public long Records { get; set; }
        public long EventsIn { get; set; }
        public long EventsScored { get; set; }
        public long Errors { get; set; }
        public long DeadLettered { get; set; }
        public long Dropped { get; set; }
        public long Batches { get; set; }
        public double LatencyMaxMs { get; set; }
        public byte[] LatencyHistogram { get; set; } = [];
    }

    private sealed class RejectionRow
    {
        public string DeviceId { get; set; } = "";
        public string Reason { get; set; } = "";
        public long Count { get; set; }
        public string LastAt { get; set; } = "";
        public string LastDetail { get; set; } = "";
    }

    private sealed class WindowRow
    {
        public string DeviceId { get; set; } = "";
        public string ModelName { get; set; } = "";
        public string ModelVersion { get; set; } = "";
        public long Minutes { get; set; }
        public long EventsScored { get; set; }
        public long Errors { get; set; }
        public double LatencyP99Ms { get; set; }
    }
#pragma warning restore CA1812
}
