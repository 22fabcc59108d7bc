using System.Data;
using System.Data.Common;
using System.Text.RegularExpressions;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Telemetry;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Telemetry;

/// <summary>
/// The statements of one telemetry transaction on SQLite, each built once and run per report: a
/// batch of hundreds of messages pays for parsing and planning once, and with the database in
/// the process a statement costs no round trip. The raw inserts are derived from the kinds'
/// declarations; the per-minute rollups aggregate each field their own way.
/// </summary>
internal sealed partial class TelemetryWriter : IDisposable
{
    private readonly DbCommand _watermark;
    private readonly RawInsert<TelemetryRecord> _health;
    private readonly RawInsert<PerfRecord> _perf;
    private readonly RawInsert<QualityRecord> _quality;
    private readonly DbCommand _perfMinuteHistogram;
    private readonly DbCommand _perfMinute;
    private readonly DbCommand _qualityMinuteDocument;
    private readonly DbCommand _qualityMinute;
    private readonly DbCommand _minute;
    private readonly DbCommand _rejection;
    private readonly DbCommand _seen;
    private readonly Dictionary<string, long> _prunedThrough = new(StringComparer.Ordinal);
    private readonly bool _prepared;

    /// <summary>
    /// <paramref name="greatest"/> is the dialect's two-argument maximum. A rollup row is read and
    /// rewritten without locking it: SQLite's writer holds the whole database.
    /// </summary>
    public TelemetryWriter(DbConnection connection, DbTransaction transaction, string receivedAt, string greatest, bool prepare)
    {
        DbCommand Command(string sql) => CreateCommand(connection, transaction, sql, prepare);
        _prepared = prepare;

        _watermark = Command("SELECT pruned_through FROM telemetry_watermarks WHERE device_id = @device");
        _health = new RawInsert<TelemetryRecord>(RawTelemetryTables.Health, Command, prepare);
        _perf = new RawInsert<PerfRecord>(RawTelemetryTables.Perf, Command, prepare);
        _quality = new RawInsert<QualityRecord>(RawTelemetryTables.Quality, Command, prepare);
        _perfMinuteHistogram = Command(
            "SELECT latency_histogram FROM telemetry_perf_minutes WHERE device_id = @device AND minute = @minute AND model_name = @model_name AND model_version = @model_version AND arm = @arm");
        _perfMinute = Command(
            $"""
            INSERT INTO telemetry_perf_minutes AS m (device_id, minute, model_name, model_version, arm, records, events_in, events_scored, errors,
                dead_lettered, dropped, batches, latency_max_ms, latency_histogram, last_sequence)
            VALUES (@device, @minute, @model_name, @model_version, @arm, 1, @events_in, @events_scored, @errors,
                @dead_lettered, @dropped, @batches, @max, @histogram, @sequence)
            ON CONFLICT (device_id, minute, model_name, model_version, arm) DO UPDATE SET
                records = m.records + 1,
                events_in = m.events_in + excluded.events_in,
                events_scored = m.events_scored + excluded.events_scored,
                errors = m.errors + excluded.errors,
                dead_lettered = m.dead_lettered + excluded.dead_lettered,
                dropped = m.dropped + excluded.dropped,
                batches = m.batches + excluded.batches,
                latency_max_ms = {greatest}(m.latency_max_ms, excluded.latency_max_ms),
                latency_histogram = excluded.latency_histogram,
                last_sequence = {greatest}(m.last_sequence, excluded.last_sequence)
            """);
        _qualityMinuteDocument = Command(
            "SELECT document FROM telemetry_quality_minutes WHERE device_id = @device AND minute = @minute AND model_name = @model_name AND model_version = @model_version AND arm = @arm");
        _qualityMinute = Command(
            """
            INSERT INTO telemetry_quality_minutes (device_id, minute, model_name, model_version, arm, document)
            VALUES (@device, @minute, @model_name, @model_version, @arm, @document)
            ON CONFLICT (device_id, minute, model_name, model_version, arm) DO UPDATE SET document = excluded.document
            """);
        _minute = Command(
            $"""
            INSERT INTO telemetry_minutes AS m (device_id, minute, model_name, model_version, reports, events_in, events_scored, errors,
                dead_lettered, latency_p50_ms_max, latency_p99_ms_max, latency_max_ms, cpu_percent_avg, memory_bytes_max,
                queue_depth_max, reports_shed_max, last_sequence)
            VALUES (@device, @minute, @model_name, @model_version, 1, @events_in, @events_scored, @errors,
                @dead_lettered, @p50, @p99, @max, @cpu, @memory, @queue_depth, @reports_shed, @sequence)
            ON CONFLICT (device_id, minute, model_name, model_version) DO UPDATE SET
                reports = m.reports + 1,
                events_in = m.events_in + excluded.events_in,
                events_scored = m.events_scored + excluded.events_scored,
                errors = m.errors + excluded.errors,
                dead_lettered = m.dead_lettered + excluded.dead_lettered,
                latency_p50_ms_max = {greatest}(m.latency_p50_ms_max, excluded.latency_p50_ms_max),
                latency_p99_ms_max = {greatest}(m.latency_p99_ms_max, excluded.latency_p99_ms_max),
                latency_max_ms = {greatest}(m.latency_max_ms, excluded.latency_max_ms),
                cpu_percent_avg = (m.cpu_percent_avg * m.reports + excluded.cpu_percent_avg) / (m.reports + 1),
                memory_bytes_max = {greatest}(m.memory_bytes_max, excluded.memory_bytes_max),
                queue_depth_max = {greatest}(m.queue_depth_max, excluded.queue_depth_max),
                reports_shed_max = {greatest}(m.reports_shed_max, excluded.reports_shed_max),
                last_sequence = {greatest}(m.last_sequence, excluded.last_sequence)
            """);
        _rejection = Command(
            """
            INSERT INTO telemetry_rejections AS r (device_id, reason, count, last_at, last_detail) VALUES (@device, @reason, @count, @at, @detail)
            ON CONFLICT (device_id, reason) DO UPDATE SET count = r.count + excluded.count, last_at = excluded.last_at, last_detail = excluded.last_detail
            """);
        _seen = Command("UPDATE devices SET last_seen = @at WHERE id = @device AND (last_seen IS NULL OR last_seen < @at)");
        _health.Command.Parameters["@received_at"].Value = receivedAt;
        _perf.Command.Parameters["@received_at"].Value = receivedAt;
        _quality.Command.Parameters["@received_at"].Value = receivedAt;
        _rejection.Parameters["@at"].Value = receivedAt;
        _seen.Parameters["@at"].Value = receivedAt;
    }

    /// <summary>Stores <paramref name="write"/> in <paramref name="transaction"/>, batch by batch, as <see cref="ITelemetryStore.WriteTelemetryAsync"/> says.</summary>
    public static IReadOnlyList<StoredTelemetry> Write(
        DbConnection connection, DbTransaction transaction, TelemetryWrite write, string greatest, bool prepare, CancellationToken cancellationToken)
    {
        using var writer = new TelemetryWriter(connection, transaction, Time(write.ReceivedAt), greatest, prepare);
        var stored = new List<StoredTelemetry>(write.Batches.Count);
        foreach (var batch in write.Batches)
        {
            cancellationToken.ThrowIfCancellationRequested();

            // Raw reports older than the retention window are gone, but their sequences must still be refused.
            var prunedThrough = writer.PrunedThrough(batch.DeviceId);
            // Only a report stored just now is added to its minute, so a replay never counts twice.
            var health = writer.Insert(batch.DeviceId, batch.Kind, [.. batch.Records.Where(r => r.Sequence > prunedThrough)]);
            writer.AddToMinutes(batch.DeviceId, health);

            var perf = writer.Insert(batch.DeviceId, [.. batch.Perf.Where(r => r.Sequence > prunedThrough)]);
            foreach (var record in perf)
            {
                writer.AddToMinute(batch.DeviceId, record);
            }

            var quality = writer.Insert(batch.DeviceId, [.. batch.Quality.Where(r => r.Sequence > prunedThrough)]);
            foreach (var record in quality)
            {
                writer.AddToMinute(batch.DeviceId, record);
            }

            var added = new StoredTelemetry(health, perf, quality);
            if (batch.Count > added.Count)
            {
                var replayed = batch.Count - added.Count;
                writer.CountRejection(batch.DeviceId, TelemetryRejections.ReplayedSequence, replayed, batch.DescribeReplays(replayed));
            }

            stored.Add(added);
        }

        foreach (var rejection in write.Rejections)
        {
            writer.CountRejection(rejection.DeviceId, rejection.Reason, rejection.Count, rejection.Detail);
        }

        // Every message is a heartbeat: the lease that shows a device online runs from here. One
        // update per device and transaction, however many of its messages it holds.
        foreach (var deviceId in write.Batches.Select(b => b.DeviceId).Distinct(StringComparer.Ordinal))
        {
            writer.MarkSeen(deviceId);
        }

        return stored;
    }

    public long PrunedThrough(string deviceId)
    {
        if (!_prunedThrough.TryGetValue(deviceId, out var through))
        {
            _watermark.Parameters["@device"].Value = deviceId;
            through = _watermark.ExecuteScalar() is { } value and not DBNull ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) : 0;
            _prunedThrough[deviceId] = through;
        }

        return through;
    }

    /// <summary>The reports stored now, in order: not those whose sequence the device already has under any kind.</summary>
    public List<TelemetryRecord> Insert(string deviceId, string kind, IReadOnlyList<TelemetryRecord> records)
    {
        _health.Command.Parameters["@kind"].Value = kind;
        return _health.Run(deviceId, records);
    }

    /// <summary>The records stored now, in order: not those whose sequence the device already has under any kind.</summary>
    public List<PerfRecord> Insert(string deviceId, IReadOnlyList<PerfRecord> records) => _perf.Run(deviceId, records);

    /// <summary>The records stored now, in order: not those whose sequence the device already has under any kind.</summary>
    public List<QualityRecord> Insert(string deviceId, IReadOnlyList<QualityRecord> records) => _quality.Run(deviceId, records);

    /// <summary>
    /// Adds a new perf record to its device's minute of its version and arm: counters summed,
    /// the latency histogram merged with the minute's, so the minute's percentiles are true ones.
    /// </summary>
    public void AddToMinute(string deviceId, PerfRecord record)
    {
        var minute = Time(TelemetryStore.MinuteOf(record.Timestamp));
        var lookup = _perfMinuteHistogram.Parameters;
        lookup["@device"].Value = deviceId;
        lookup["@minute"].Value = minute;
        lookup["@model_name"].Value = record.ModelName;
        lookup["@model_version"].Value = record.ModelVersion;
        lookup["@arm"].Value = record.Arm;
        var held = _perfMinuteHistogram.ExecuteScalar() as byte[] ?? [];
        var merged = Host.Telemetry.LatencyHistograms.Merge([held, record.LatencyHistogram]);

        var p = _perfMinute.Parameters;
        p["@device"].Value = deviceId;
        p["@minute"].Value = minute;
        p["@model_name"].Value = record.ModelName;
        p["@model_version"].Value = record.ModelVersion;
        p["@arm"].Value = record.Arm;
        p["@events_in"].Value = record.EventsIn;
        p["@events_scored"].Value = record.EventsScored;
        p["@errors"].Value = record.Errors;
        p["@dead_lettered"].Value = record.DeadLettered;
        p["@dropped"].Value = record.Dropped;
        p["@batches"].Value = record.Batches;
        p["@max"].Value = record.LatencyMaxMs;
        p["@histogram"].Value = merged is null ? Array.Empty<byte>() : Host.Telemetry.LatencyHistograms.Encode(merged);
        p["@sequence"].Value = record.Sequence;
        _perfMinute.ExecuteNonQuery();
    }

    /// <summary>Adds a new quality record to its device's minute of its version and arm (<see cref="QualityRollup"/> says how).</summary>
    public void AddToMinute(string deviceId, QualityRecord record)
    {
        var minute = TelemetryStore.MinuteOf(record.Timestamp);
        var p = _qualityMinuteDocument.Parameters;
        p["@device"].Value = deviceId;
        p["@minute"].Value = Time(minute);
        p["@model_name"].Value = record.ModelName;
        p["@model_version"].Value = record.ModelVersion;
        p["@arm"].Value = record.Arm;
        var added = QualityRollup.From(record, minute);
        var held = _qualityMinuteDocument.ExecuteScalar() as string;
        var combined = held is null ? added : QualityRollup.Combine(FromJson(held, ContractsJsonContext.Default.QualityMinute), added, sameDevice: true);

        var q = _qualityMinute.Parameters;
        q["@device"].Value = deviceId;
        q["@minute"].Value = Time(minute);
        q["@model_name"].Value = record.ModelName;
        q["@model_version"].Value = record.ModelVersion;
        q["@arm"].Value = record.Arm;
        q["@document"].Value = Json(combined, ContractsJsonContext.Default.QualityMinute);
        _qualityMinute.ExecuteNonQuery();
    }

    /// <summary>Adds new reports to their device's minutes of their model version: counters summed, gauges at their maximum.</summary>
    public void AddToMinutes(string deviceId, IReadOnlyList<TelemetryRecord> records) =>
        RunEach(_minute, _prepared, records, (p, record) =>
        {
            p["@device"].Value = deviceId;
            p["@minute"].Value = Time(TelemetryStore.MinuteOf(record.Timestamp));
            p["@model_name"].Value = record.ModelName ?? string.Empty;
            p["@model_version"].Value = record.ModelVersion ?? string.Empty;
            p["@events_in"].Value = record.EventsIn;
            p["@events_scored"].Value = record.EventsScored;
            p["@errors"].Value = record.Errors;
            p["@dead_lettered"].Value = record.DeadLettered;
            p["@p50"].Value = record.LatencyP50Ms;
            p["@p99"].Value = record.LatencyP99Ms;
            p["@max"].Value = record.LatencyMaxMs;
            p["@cpu"].Value = record.CpuPercent;
            p["@memory"].Value = record.MemoryBytes;
            p["@queue_depth"].Value = record.QueueDepth;
            p["@reports_shed"].Value = record.ReportsShed;
            p["@sequence"].Value = record.Sequence;
        });

    public void CountRejection(string deviceId, string reason, long count, string detail)
    {
        var p = _rejection.Parameters;
        p["@device"].Value = deviceId;
        p["@reason"].Value = reason;
        p["@count"].Value = count;
        p["@detail"].Value = detail;
        _rejection.ExecuteNonQuery();
    }

    public void MarkSeen(string deviceId)
    {
        _seen.Parameters["@device"].Value = deviceId;
        _seen.ExecuteNonQuery();
    }

    public void Dispose()
    {
        _watermark.Dispose();
        _health.Command.Dispose();
        _perf.Command.Dispose();
        _quality.Command.Dispose();
        _perfMinuteHistogram.Dispose();
        _perfMinute.Dispose();
        _qualityMinuteDocument.Dispose();
        _qualityMinute.Dispose();
        _minute.Dispose();
        _rejection.Dispose();
        _seen.Dispose();
    }

    /// <summary>
    /// Runs <paramref name="template"/> once per item, its parameters set by <paramref name="set"/>,
    /// and says how many rows each run changed. An unprepared statement, where the provider batches
    /// commands, travels in one batch with its other runs: one round trip instead of one per item.
    /// </summary>
    private static int[] RunEach<T>(DbCommand template, bool prepared, IReadOnlyList<T> items, Action<DbParameterCollection, T> set)
    {
        var connection = template.Connection!;
        if (items.Count <= 1 || !connection.CanCreateBatch || prepared)
        {
            var changed = new int[items.Count];
            for (var i = 0; i < items.Count; i++)
            {
                set(template.Parameters, items[i]);
                changed[i] = template.ExecuteNonQuery();
            }

            return changed;
        }

        using var batch = connection.CreateBatch();
        batch.Transaction = template.Transaction;
        foreach (var item in items)
        {
            set(template.Parameters, item);
            var command = batch.CreateBatchCommand();
            command.CommandText = template.CommandText;
            foreach (DbParameter parameter in template.Parameters)
            {
                var copy = command.CreateParameter();
                copy.ParameterName = parameter.ParameterName;
                copy.DbType = parameter.DbType;
                copy.Value = parameter.Value;
                command.Parameters.Add(copy);
            }

            batch.BatchCommands.Add(command);
        }

        batch.ExecuteNonQuery();
        return [.. batch.BatchCommands.Select(c => c.RecordsAffected)];
    }

    /// <summary>A command whose parameters are every <c>@name</c> its text uses, to be given values per run.</summary>
    private static DbCommand CreateCommand(DbConnection connection, DbTransaction transaction, string sql, bool prepare)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var name in ParameterName().Matches(sql).Select(m => m.Value).Distinct(StringComparer.Ordinal))
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = DBNull.Value;
            command.Parameters.Add(parameter);
        }

        if (prepare)
        {
            command.Prepare();
        }

        return command;
    }

    [GeneratedRegex(@"@[a-z0-9_]+")]
    private static partial Regex ParameterName();

    /// <summary>
    /// The insert of one kind's raw record, its columns and parameters those of the kind's
    /// declaration; it stores nothing when any kind's table already holds the device's sequence,
    /// so one sequence names one record whichever kind it came as, even with replicas writing at once.
    /// </summary>
    private sealed class RawInsert<TRecord>
    {
        private readonly RawTelemetryTable<TRecord> _table;
        private readonly DbParameter[] _fields;
        private readonly DbParameter _device;

        private readonly bool _prepared;

        public RawInsert(RawTelemetryTable<TRecord> table, Func<string, DbCommand> command, bool prepared)
        {
            _prepared = prepared;
            _table = table;
            var fields = table.Schema.Fields;
            var values = table.KeyColumns.Select(c => c == "device_id" ? "@device" : "@" + c).Concat(fields.Select(RawTelemetryTable<TRecord>.Parameter));
            var notUnderAnotherKind = string.Join(
                " AND ",
                RawTelemetryTables.Names
                    .Where(other => other != table.Name)
                    .Select(other => $"NOT EXISTS (SELECT 1 FROM {other} WHERE device_id = @device AND sequence = @sequence)"));
            Command = command(
                $"""
                INSERT INTO {table.Name} ({string.Join(", ", table.Columns)})
                SELECT {string.Join(", ", values)}
                WHERE {notUnderAnotherKind}
                ON CONFLICT (device_id, sequence) DO NOTHING
                """);
            _device = Command.Parameters["@device"];
            _fields = [.. fields.Select(f => Command.Parameters[RawTelemetryTable<TRecord>.Parameter(f)])];
            for (var i = 0; i < fields.Count; i++)
            {
                _fields[i].DbType = RawTelemetryTable<TRecord>.ParameterType(fields[i]);
            }

            // Prepared again now that its parameters' types are known.
            if (prepared)
            {
                Command.Prepare();
            }
        }

        public DbCommand Command { get; }

        public List<TRecord> Run(string deviceId, IReadOnlyList<TRecord> records)
        {
            var fields = _table.Schema.Fields;
            var changed = RunEach(Command, _prepared, records, (_, record) =>
            {
                _device.Value = deviceId;
                for (var i = 0; i < fields.Count; i++)
                {
                    _fields[i].Value = _table.ToColumn(fields[i], record);
                }
            });
            return [.. records.Where((_, i) => changed[i] == 1)];
        }
    }
}
