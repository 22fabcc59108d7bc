using System.Data;
using System.Data.Common;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Telemetry;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Telemetry;

/// <summary>
/// One telemetry transaction on PostgreSQL as a few statements over whole columns, whatever the
/// number of reports: each kind's raw rows in one insert from arrays (their columns derived from
/// the kind's declaration), each rollup table in one or two statements, the rejections and the
/// leases in one each. A statement per report costs a round trip per report, which bounds what
/// a replica can ingest: 10,000 health reports of 100 devices in one write took about 9 s so,
/// and take about 1 s or less this way.
/// </summary>
/// <remarks>
/// Replicas write the same devices' minutes at once, so every statement takes its row locks in
/// the order of its rows' keys, and the statements run in the same order in every transaction:
/// two writes that meet wait for each other rather than deadlock. A perf or quality minute is
/// merged outside SQL (latency histograms, feature moments), so its row is first locked, created
/// when missing, and read in one upsert, and then written back: a replica that created the same
/// minute first is waited for and merged with, never overwritten.
/// </remarks>
internal sealed class PostgresTelemetryWriter(DbConnection connection, DbTransaction transaction, TelemetryWrite write)
{
    private static readonly string HealthInsert = RawInsertSql(RawTelemetryTables.Health);
    private static readonly string PerfInsert = RawInsertSql(RawTelemetryTables.Perf);
    private static readonly string QualityInsert = RawInsertSql(RawTelemetryTables.Quality);

    private readonly string _receivedAt = Time(write.ReceivedAt);

    public async Task<IReadOnlyList<StoredTelemetry>> WriteAsync(CancellationToken cancellationToken)
    {
        var devices = write.Batches.Select(b => b.DeviceId).Distinct(StringComparer.Ordinal).ToArray();
        var prunedThrough = await PrunedThroughAsync(devices, cancellationToken).ConfigureAwait(false);

        // Batches apply in order: a (device, sequence) is offered once, from its first batch, under
        // whichever kind it came first; any later copy is a replay without asking the database.
        var offered = new HashSet<(string DeviceId, long Sequence)>();
        bool Offer(string deviceId, long sequence) => sequence > prunedThrough.GetValueOrDefault(deviceId) && offered.Add((deviceId, sequence));
        var health = new List<Row<TelemetryRecord>>();
        var perf = new List<Row<PerfRecord>>();
        var quality = new List<Row<QualityRecord>>();
        for (var i = 0; i < write.Batches.Count; i++)
        {
            var batch = write.Batches[i];
            health.AddRange(batch.Records.Where(r => Offer(batch.DeviceId, r.Sequence)).Select(r => new Row<TelemetryRecord>(i, batch.DeviceId, batch.Kind, r.Sequence, r)));
            perf.AddRange(batch.Perf.Where(r => Offer(batch.DeviceId, r.Sequence)).Select(r => new Row<PerfRecord>(i, batch.DeviceId, batch.Kind, r.Sequence, r)));
            quality.AddRange(batch.Quality.Where(r => Offer(batch.DeviceId, r.Sequence)).Select(r => new Row<QualityRecord>(i, batch.DeviceId, batch.Kind, r.Sequence, r)));
        }

        // Only a report stored just now is added to its minute, so a replay never counts twice.
        health = await InsertAsync(RawTelemetryTables.Health, HealthInsert, health, cancellationToken).ConfigureAwait(false);
        perf = await InsertAsync(RawTelemetryTables.Perf, PerfInsert, perf, cancellationToken).ConfigureAwait(false);
        quality = await InsertAsync(RawTelemetryTables.Quality, QualityInsert, quality, cancellationToken).ConfigureAwait(false);
        await AddToMinutesAsync(health, cancellationToken).ConfigureAwait(false);
        await AddToMinutesAsync(perf, cancellationToken).ConfigureAwait(false);
        await AddToMinutesAsync(quality, cancellationToken).ConfigureAwait(false);

        var stored = new List<StoredTelemetry>(write.Batches.Count);
        var rejections = new List<TelemetryRejection>();
        var healthOf = health.ToLookup(r => r.Batch, r => r.Record);
        var perfOf = perf.ToLookup(r => r.Batch, r => r.Record);
        var qualityOf = quality.ToLookup(r => r.Batch, r => r.Record);
        for (var i = 0; i < write.Batches.Count; i++)
        {
            var batch = write.Batches[i];
            var added = new StoredTelemetry([.. healthOf[i]], [.. perfOf[i]], [.. qualityOf[i]]);
            if (batch.Count > added.Count)
            {
                var replayed = batch.Count - added.Count;
                rejections.Add(new TelemetryRejection(batch.DeviceId, TelemetryRejections.ReplayedSequence, replayed, batch.DescribeReplays(replayed)));
            }

            stored.Add(added);
        }

        await CountRejectionsAsync([.. rejections, .. write.Rejections], cancellationToken).ConfigureAwait(false);
        await MarkSeenAsync(devices, cancellationToken).ConfigureAwait(false);
        return stored;
    }

    /// <summary>Each device's sequence up to which raw reports were pruned: those sequences stay refused.</summary>
    private async Task<Dictionary<string, long>> PrunedThroughAsync(string[] devices, CancellationToken cancellationToken)
    {
        var through = new Dictionary<string, long>(StringComparer.Ordinal);
        if (devices.Length == 0)
        {
            return through;
        }

        await using var command = Command(
            "SELECT device_id, pruned_through FROM telemetry_watermarks WHERE device_id = ANY(@device_id)",
            ("device_id", devices));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            through[reader.GetString(0)] = reader.GetInt64(1);
        }

        return through;
    }

    /// <summary>
    /// The insert of one kind's raw rows from one array per column; it stores nothing where any
    /// kind's table already holds the device's sequence, and returns what it stored.
    /// </summary>
    private static string RawInsertSql<TRecord>(RawTelemetryTable<TRecord> table)
    {
        var arrays = ArrayColumns(table).ToList();
        var values = table.KeyColumns.Select(c => c == "received_at" ? "@received_at" : "r." + c).Concat(table.Schema.Fields.Select(f => "r." + f.StoreColumn));
        var notUnderAnotherKind = RawTelemetryTables.Names
            .Where(other => other != table.Name)
            .Select(other => $"NOT EXISTS (SELECT 1 FROM {other} o WHERE o.device_id = r.device_id AND o.sequence = r.sequence)");
        return $"""
            INSERT INTO {table.Name} ({string.Join(", ", table.Columns)})
            SELECT {string.Join(", ", values)}
            FROM unnest({string.Join(", ", arrays.Select(c => "@" + c))}) AS r({string.Join(", ", arrays)})
            WHERE {string.Join(" AND ", notUnderAnotherKind)}
            ORDER BY r.device_id, r.sequence
            ON CONFLICT (device_id, sequence) DO NOTHING
            RETURNING device_id, sequence
            """;
    }

    /// <summary>The columns given one value per row: all but the receipt time, which the whole write shares.</summary>
    private static IEnumerable<string> ArrayColumns<TRecord>(RawTelemetryTable<TRecord> table) =>
        table.KeyColumns.Where(c => c != "received_at").Concat(table.Schema.Fields.Select(f => f.StoreColumn));

    /// <summary>Inserts the rows that are new and returns them, in their order.</summary>
    private async Task<List<Row<TRecord>>> InsertAsync<TRecord>(RawTelemetryTable<TRecord> table, string sql, List<Row<TRecord>> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return rows;
        }

        var parameters = new List<(string, object)>
        {
            ("received_at", _receivedAt),
            ("device_id", rows.Select(r => r.DeviceId).ToArray()),
        };
        if (table.HasKind)
        {
            parameters.Add(("kind", rows.Select(r => r.Kind).ToArray()));
        }

        parameters.AddRange(table.Schema.Fields.Select(field => (field.StoreColumn, (object)ColumnValues(table, field, rows))));
        await using var command = Command(sql, [.. parameters]);
        var stored = new HashSet<(string DeviceId, long Sequence)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                stored.Add((reader.GetString(0), reader.GetInt64(1)));
            }
        }

        return [.. rows.Where(r => stored.Contains((r.DeviceId, r.Sequence)))];
    }

    /// <summary>One field's column as a typed array, each value converted as its column holds it.</summary>
    private static Array ColumnValues<TRecord>(RawTelemetryTable<TRecord> table, TelemetryField<TRecord> field, List<Row<TRecord>> rows) =>
        RawTelemetryTable<TRecord>.ParameterType(field) switch
        {
            DbType.Int64 => rows.Select(r => (long)table.ToColumn(field, r.Record)).ToArray(),
            DbType.Double => rows.Select(r => table.ToColumn(field, r.Record) as double?).ToArray(),
            DbType.Binary => rows.Select(r => (byte[])table.ToColumn(field, r.Record)).ToArray(),
            _ => rows.Select(r => table.ToColumn(field, r.Record) as string).ToArray(),
        };

    /// <summary>
    /// Adds new reports to their device's minutes of their model version in one upsert, counters
    /// summed and gauges at their maximum, over the minute's reports and the row's.
    /// </summary>
    private async Task AddToMinutesAsync(List<Row<TelemetryRecord>> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return;
        }

        await using var command = Command(
            """
            INSERT INTO telemetry_minutes AS m (device_id, minute, model_name, model_version, reports, events_in, events_scored, errors,
                dead_lettered, latency_p50_ms_max, latency_p99_ms_max, latency_max_ms, cpu_percent_avg, memory_bytes_max,
                queue_depth_max, reports_shed_max, last_sequence)
            SELECT device_id, minute, model_name, model_version, COUNT(*), SUM(events_in), SUM(events_scored), SUM(errors),
                SUM(dead_lettered), MAX(latency_p50_ms), MAX(latency_p99_ms), MAX(latency_max_ms), AVG(cpu_percent), MAX(memory_bytes),
                MAX(queue_depth), MAX(reports_shed), MAX(sequence)
            FROM unnest(@device_id, @minute, @model_name, @model_version, @events_in, @events_scored, @errors, @dead_lettered,
                @latency_p50_ms, @latency_p99_ms, @latency_max_ms, @cpu_percent, @memory_bytes, @queue_depth, @reports_shed, @sequence)
                AS r(device_id, minute, model_name, model_version, events_in, events_scored, errors, dead_lettered,
                latency_p50_ms, latency_p99_ms, latency_max_ms, cpu_percent, memory_bytes, queue_depth, reports_shed, sequence)
            GROUP BY device_id, minute, model_name, model_version
            ORDER BY device_id, minute, model_name, model_version
            ON CONFLICT (device_id, minute, model_name, model_version) DO UPDATE SET
                reports = m.reports + excluded.reports,
                events_in = m.events_in + excluded.events_in,
                events_scored = m.events_scored + excluded.events_scored,
                errors = m.errors + excluded.errors,
                dead_lettered = m.dead_lettered + excluded.dead_lettered,
                latency_p50_ms_max = GREATEST(m.latency_p50_ms_max, excluded.latency_p50_ms_max),
                latency_p99_ms_max = GREATEST(m.latency_p99_ms_max, excluded.latency_p99_ms_max),
                latency_max_ms = GREATEST(m.latency_max_ms, excluded.latency_max_ms),
                cpu_percent_avg = (m.cpu_percent_avg * m.reports + excluded.cpu_percent_avg * excluded.reports) / (m.reports + excluded.reports),
                memory_bytes_max = GREATEST(m.memory_bytes_max, excluded.memory_bytes_max),
                queue_depth_max = GREATEST(m.queue_depth_max, excluded.queue_depth_max),
                reports_shed_max = GREATEST(m.reports_shed_max, excluded.reports_shed_max),
                last_sequence = GREATEST(m.last_sequence, excluded.last_sequence)
            """,
            ("device_id", rows.Select(r => r.DeviceId).ToArray()),
            ("minute", rows.Select(r => Time(TelemetryStore.MinuteOf(r.Record.Timestamp))).ToArray()),
            ("model_name", rows.Select(r => r.Record.ModelName ?? string.Empty).ToArray()),
            ("model_version", rows.Select(r => r.Record.ModelVersion ?? string.Empty).ToArray()),
            ("events_in", rows.Select(r => r.Record.EventsIn).ToArray()),
            ("events_scored", rows.Select(r => r.Record.EventsScored).ToArray()),
            ("errors", rows.Select(r => r.Record.Errors).ToArray()),
            ("dead_lettered", rows.Select(r => r.Record.DeadLettered).ToArray()),
            ("latency_p50_ms", rows.Select(r => r.Record.LatencyP50Ms).ToArray()),
            ("latency_p99_ms", rows.Select(r => r.Record.LatencyP99Ms).ToArray()),
            ("latency_max_ms", rows.Select(r => r.Record.LatencyMaxMs).ToArray()),
            ("cpu_percent", rows.Select(r => r.Record.CpuPercent).ToArray()),
            ("memory_bytes", rows.Select(r => r.Record.MemoryBytes).ToArray()),
            ("queue_depth", rows.Select(r => r.Record.QueueDepth).ToArray()),
            ("reports_shed", rows.Select(r => r.Record.ReportsShed).ToArray()),
            ("sequence", rows.Select(r => r.Sequence).ToArray()));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Adds new perf records to their device's minutes of their version and arm: counters summed,
    /// the latency histograms merged with the minute's, so the minute's percentiles are true ones.
    /// </summary>
    private async Task AddToMinutesAsync(List<Row<PerfRecord>> rows, CancellationToken cancellationToken)
    {
        var minutes = rows.GroupBy(r => MinuteKey.Of(r.DeviceId, r.Record.Timestamp, r.Record.ModelName, r.Record.ModelVersion, r.Record.Arm)).ToList();
        if (minutes.Count == 0)
        {
            return;
        }

        var held = await LockMinutesAsync(
            "telemetry_perf_minutes",
            "records, events_in, events_scored, errors, dead_lettered, dropped, batches, latency_max_ms, latency_histogram, last_sequence",
            "0, 0, 0, 0, 0, 0, 0, 0, ''::bytea, 0",
            "latency_histogram",
            [.. minutes.Select(m => m.Key)],
            reader => (byte[])reader.GetValue(0),
            cancellationToken).ConfigureAwait(false);
        var histograms = minutes.Select(m =>
        {
            var merged = Host.Telemetry.LatencyHistograms.Merge([held[m.Key], .. m.Select(r => r.Record.LatencyHistogram)]);
            return merged is null ? [] : Host.Telemetry.LatencyHistograms.Encode(merged);
        }).ToArray();

        await using var command = Command(
            $"""
            UPDATE telemetry_perf_minutes AS m SET
                records = m.records + u.records,
                events_in = m.events_in + u.events_in,
                events_scored = m.events_scored + u.events_scored,
                errors = m.errors + u.errors,
                dead_lettered = m.dead_lettered + u.dead_lettered,
                dropped = m.dropped + u.dropped,
                batches = m.batches + u.batches,
                latency_max_ms = GREATEST(m.latency_max_ms, u.latency_max_ms),
                latency_histogram = u.latency_histogram,
                last_sequence = GREATEST(m.last_sequence, u.last_sequence)
            FROM unnest({MinuteKey.Parameters}, @records, @events_in, @events_scored, @errors, @dead_lettered, @dropped, @batches,
                @latency_max_ms, @latency_histogram, @last_sequence)
                AS u({MinuteKey.Columns}, records, events_in, events_scored, errors, dead_lettered, dropped, batches,
                latency_max_ms, latency_histogram, last_sequence)
            WHERE {MinuteKey.Matches("m", "u")}
            """,
            [
                .. MinuteKey.Values([.. minutes.Select(m => m.Key)]),
                ("records", minutes.Select(m => (long)m.Count()).ToArray()),
                ("events_in", minutes.Select(m => m.Sum(r => r.Record.EventsIn)).ToArray()),
                ("events_scored", minutes.Select(m => m.Sum(r => r.Record.EventsScored)).ToArray()),
                ("errors", minutes.Select(m => m.Sum(r => r.Record.Errors)).ToArray()),
                ("dead_lettered", minutes.Select(m => m.Sum(r => r.Record.DeadLettered)).ToArray()),
                ("dropped", minutes.Select(m => m.Sum(r => r.Record.Dropped)).ToArray()),
                ("batches", minutes.Select(m => m.Sum(r => r.Record.Batches)).ToArray()),
                ("latency_max_ms", minutes.Select(m => m.Max(r => r.Record.LatencyMaxMs)).ToArray()),
                ("latency_histogram", histograms),
                ("last_sequence", minutes.Select(m => m.Max(r => r.Sequence)).ToArray()),
            ]);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Adds new quality records to their device's minutes of their version and arm (<see cref="QualityRollup"/> says how).</summary>
    private async Task AddToMinutesAsync(List<Row<QualityRecord>> rows, CancellationToken cancellationToken)
    {
        var minutes = rows.GroupBy(r => MinuteKey.Of(r.DeviceId, r.Record.Timestamp, r.Record.ModelName, r.Record.ModelVersion, r.Record.Arm)).ToList();
        if (minutes.Count == 0)
        {
            return;
        }

        // A minute created just now holds an empty document until it is written back below.
        var held = await LockMinutesAsync(
            "telemetry_quality_minutes", "document", "''", "document", [.. minutes.Select(m => m.Key)], reader => reader.GetString(0), cancellationToken).ConfigureAwait(false);
        var documents = minutes.Select(m =>
        {
            var minute = ParseTime(m.Key.Minute);
            var combined = m
                .Select(r => QualityRollup.From(r.Record, minute))
                .Aggregate((a, b) => QualityRollup.Combine(a, b, sameDevice: true));
            if (held[m.Key] is { Length: > 0 } document)
            {
                combined = QualityRollup.Combine(FromJson(document, ContractsJsonContext.Default.QualityMinute), combined, sameDevice: true);
            }

            return Json(combined, ContractsJsonContext.Default.QualityMinute);
        }).ToArray();

        await using var command = Command(
            $"""
            UPDATE telemetry_quality_minutes AS m SET document = u.document
            FROM unnest({MinuteKey.Parameters}, @document) AS u({MinuteKey.Columns}, document)
            WHERE {MinuteKey.Matches("m", "u")}
            """,
            [.. MinuteKey.Values([.. minutes.Select(m => m.Key)]), ("document", documents)]);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Locks each of <paramref name="keys"/>' rows of <paramref name="table"/>, in key order,
    /// creating the missing ones with <paramref name="emptyValues"/>, and returns each row's
    /// <paramref name="read"/> column as it stands once locked: with what another replica
    /// committed to it while this one waited.
    /// </summary>
    private async Task<Dictionary<MinuteKey, T>> LockMinutesAsync<T>(
        string table, string valueColumns, string emptyValues, string read, MinuteKey[] keys, Func<DbDataReader, T> value, CancellationToken cancellationToken)
    {
        // The no-op update is what locks a row that exists (DO NOTHING would leave it unlocked) and returns it.
        await using var command = Command(
            $"""
            INSERT INTO {table} AS m ({MinuteKey.Columns}, {valueColumns})
            SELECT {MinuteKey.Columns}, {emptyValues}
            FROM unnest({MinuteKey.Parameters}) AS k({MinuteKey.Columns})
            ORDER BY {MinuteKey.Columns}
            ON CONFLICT ({MinuteKey.Columns}) DO UPDATE SET {read} = m.{read}
            RETURNING {read}, {MinuteKey.Columns}
            """,
            MinuteKey.Values(keys));
        var held = new Dictionary<MinuteKey, T>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            held[new MinuteKey(reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5))] = value(reader);
        }

        return held;
    }

    /// <summary>Counts refusals per device and reason in one upsert, each pair's latest detail kept.</summary>
    private async Task CountRejectionsAsync(List<TelemetryRejection> rejections, CancellationToken cancellationToken)
    {
        // One row per pair: an upsert may not touch a row twice.
        var counts = rejections
            .GroupBy(r => (r.DeviceId, r.Reason))
            .Select(g => new TelemetryRejection(g.Key.DeviceId, g.Key.Reason, g.Sum(r => r.Count), g.Last().Detail))
            .ToList();
        if (counts.Count == 0)
        {
            return;
        }

        await using var command = Command(
            """
            INSERT INTO telemetry_rejections AS r (device_id, reason, count, last_at, last_detail)
            SELECT device_id, reason, count, @at, detail
            FROM unnest(@device_id, @reason, @count, @detail) AS u(device_id, reason, count, detail)
            ORDER BY device_id, reason
            ON CONFLICT (device_id, reason) DO UPDATE SET count = r.count + excluded.count, last_at = excluded.last_at, last_detail = excluded.last_detail
            """,
            ("at", _receivedAt),
            ("device_id", counts.Select(r => r.DeviceId).ToArray()),
            ("reason", counts.Select(r => r.Reason).ToArray()),
            ("count", counts.Select(r => r.Count).ToArray()),
            ("detail", counts.Select(r => r.Detail).ToArray()));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every message is a heartbeat: the lease that shows a device online runs from here.</summary>
    private async Task MarkSeenAsync(string[] devices, CancellationToken cancellationToken)
    {
        if (devices.Length == 0)
        {
            return;
        }

        await using var command = Command(
            """
            UPDATE devices SET last_seen = @at
            WHERE id IN (SELECT id FROM devices WHERE id = ANY(@device_id) ORDER BY id FOR UPDATE)
              AND (last_seen IS NULL OR last_seen < @at)
            """,
            ("at", _receivedAt),
            ("device_id", devices));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private DbCommand Command(string sql, params (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    /// <summary>A report of one batch offered for storing.</summary>
    private readonly record struct Row<TRecord>(int Batch, string DeviceId, string Kind, long Sequence, TRecord Record);

    /// <summary>The key of a perf or quality minute: a device's minute of one model version and arm.</summary>
    private readonly record struct MinuteKey(string DeviceId, string Minute, string ModelName, string ModelVersion, string Arm)
    {
        public const string Columns = "device_id, minute, model_name, model_version, arm";

        public const string Parameters = "@device_id, @minute, @model_name, @model_version, @arm";

        public static MinuteKey Of(string deviceId, DateTimeOffset timestamp, string modelName, string modelVersion, string arm) =>
            new(deviceId, Time(TelemetryStore.MinuteOf(timestamp)), modelName, modelVersion, arm);

        public static string Matches(string row, string values) => string.Join(
            " AND ", Columns.Split(", ").Select(c => $"{row}.{c} = {values}.{c}"));

        public static (string, object)[] Values(MinuteKey[] keys) =>
        [
            ("device_id", keys.Select(k => k.DeviceId).ToArray()),
            ("minute", keys.Select(k => k.Minute).ToArray()),
            ("model_name", keys.Select(k => k.ModelName).ToArray()),
            ("model_version", keys.Select(k => k.ModelVersion).ToArray()),
            ("arm", keys.Select(k => k.Arm).ToArray()),
        ];
    }
}
