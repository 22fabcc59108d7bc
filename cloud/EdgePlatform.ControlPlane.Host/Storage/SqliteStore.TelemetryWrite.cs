using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Data.Sqlite;

namespace EdgePlatform.ControlPlane.Host.Storage;

public sealed partial class SqliteStore
{
    public async Task<IReadOnlyList<IReadOnlyList<TelemetryRecord>>> WriteTelemetryAsync(TelemetryWrite write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        await using var connection = Open();

        // Telemetry commits skip the per-commit fsync (WAL with synchronous=NORMAL): a killed
        // server loses nothing committed; a power cut may lose the last transactions, whose
        // messages the broker then still holds, since they are acknowledged only after the commit
        // returned (with the embedded broker, which keeps nothing on disk, they are lost with it).
        // Every other table keeps FULL.
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA synchronous = NORMAL";
            pragma.ExecuteNonQuery();
        }

        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        using var writer = new TelemetryWriter(connection, transaction, Time(write.ReceivedAt));
        var stored = new List<IReadOnlyList<TelemetryRecord>>(write.Batches.Count);
        foreach (var batch in write.Batches)
        {
            cancellationToken.ThrowIfCancellationRequested();

            // Raw reports older than the retention window are gone, but their sequences must still be refused.
            var prunedThrough = writer.PrunedThrough(batch.DeviceId);
            var inserted = new List<TelemetryRecord>(batch.Records.Count);
            foreach (var record in batch.Records)
            {
                // Only a report stored just now is added to its minute, so a replay never counts twice.
                if (record.Sequence > prunedThrough && writer.Insert(batch.DeviceId, batch.Kind, record))
                {
                    writer.AddToMinute(batch.DeviceId, record);
                    inserted.Add(record);
                }
            }

            if (batch.Records.Count > inserted.Count)
            {
                var replayed = batch.Records.Count - inserted.Count;
                writer.CountRejection(batch.DeviceId, TelemetryRejections.ReplayedSequence, replayed, batch.DescribeReplays(replayed));
            }

            stored.Add(inserted);
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

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return stored;
    }

    /// <summary>
    /// The statements of one telemetry transaction, each prepared once and run per report: a
    /// batch of hundreds of messages pays for parsing and planning once.
    /// </summary>
    private sealed class TelemetryWriter : IDisposable
    {
        private readonly SqliteCommand _watermark;
        private readonly SqliteCommand _insert;
        private readonly SqliteCommand _minute;
        private readonly SqliteCommand _rejection;
        private readonly SqliteCommand _seen;
        private readonly Dictionary<string, long> _prunedThrough = new(StringComparer.Ordinal);

        public TelemetryWriter(SqliteConnection connection, SqliteTransaction transaction, string receivedAt)
        {
            _watermark = Command(connection, transaction, "SELECT pruned_through FROM telemetry_watermarks WHERE device_id = $device");
            _insert = Command(
                connection,
                transaction,
                """
                INSERT OR IGNORE INTO telemetry (device_id, sequence, kind, received_at, ts, model_name, model_version, model_digest,
                    events_in, events_scored, errors, dead_lettered, latency_p50_ms, latency_p95_ms, latency_p99_ms, latency_max_ms,
                    cpu_percent, memory_bytes, queue_depth, queue_bytes, reports_shed)
                VALUES ($device, $sequence, $kind, $received, $ts, $model_name, $model_version, $model_digest,
                    $events_in, $events_scored, $errors, $dead_lettered, $p50, $p95, $p99, $max,
                    $cpu, $memory, $queue_depth, $queue_bytes, $reports_shed)
                """);
            _minute = Command(
                connection,
                transaction,
                """
                INSERT INTO telemetry_minutes (device_id, minute, model_name, model_version, reports, events_in, events_scored, errors,
                    dead_lettered, latency_p50_ms_max, latency_p99_ms_max, latency_max_ms, cpu_percent_avg, memory_bytes_max,
                    queue_depth_max, reports_shed_max, last_sequence)
                VALUES ($device, $minute, $model_name, $model_version, 1, $events_in, $events_scored, $errors,
                    $dead_lettered, $p50, $p99, $max, $cpu, $memory, $queue_depth, $reports_shed, $sequence)
                ON CONFLICT (device_id, minute, model_name, model_version) DO UPDATE SET
                    reports = reports + 1,
                    events_in = events_in + excluded.events_in,
                    events_scored = events_scored + excluded.events_scored,
                    errors = errors + excluded.errors,
                    dead_lettered = dead_lettered + excluded.dead_lettered,
                    latency_p50_ms_max = max(latency_p50_ms_max, excluded.latency_p50_ms_max),
                    latency_p99_ms_max = max(latency_p99_ms_max, excluded.latency_p99_ms_max),
                    latency_max_ms = max(latency_max_ms, excluded.latency_max_ms),
                    cpu_percent_avg = (cpu_percent_avg * reports + excluded.cpu_percent_avg) / (reports + 1),
                    memory_bytes_max = max(memory_bytes_max, excluded.memory_bytes_max),
                    queue_depth_max = max(queue_depth_max, excluded.queue_depth_max),
                    reports_shed_max = max(reports_shed_max, excluded.reports_shed_max),
                    last_sequence = max(last_sequence, excluded.last_sequence)
                """);
            _rejection = Command(
                connection,
                transaction,
                """
                INSERT INTO telemetry_rejections (device_id, reason, count, last_at, last_detail) VALUES ($device, $reason, $count, $at, $detail)
                ON CONFLICT (device_id, reason) DO UPDATE SET count = count + excluded.count, last_at = excluded.last_at, last_detail = excluded.last_detail
                """);
            _seen = Command(connection, transaction, "UPDATE devices SET last_seen = $at WHERE id = $device AND (last_seen IS NULL OR last_seen < $at)");
            _insert.Parameters["$received"].Value = receivedAt;
            _rejection.Parameters["$at"].Value = receivedAt;
            _seen.Parameters["$at"].Value = receivedAt;
        }

        public long PrunedThrough(string deviceId)
        {
            if (!_prunedThrough.TryGetValue(deviceId, out var through))
            {
                _watermark.Parameters["$device"].Value = deviceId;
                through = _watermark.ExecuteScalar() is long value ? value : 0;
                _prunedThrough[deviceId] = through;
            }

            return through;
        }

        /// <summary>False when the device already has a report with this sequence.</summary>
        public bool Insert(string deviceId, string kind, TelemetryRecord record)
        {
            var p = _insert.Parameters;
            p["$device"].Value = deviceId;
            p["$sequence"].Value = record.Sequence;
            p["$kind"].Value = kind;
            p["$ts"].Value = Time(record.Timestamp);
            p["$model_name"].Value = (object?)record.ModelName ?? DBNull.Value;
            p["$model_version"].Value = (object?)record.ModelVersion ?? DBNull.Value;
            p["$model_digest"].Value = (object?)record.ModelDigest ?? DBNull.Value;
            p["$events_in"].Value = record.EventsIn;
            p["$events_scored"].Value = record.EventsScored;
            p["$errors"].Value = record.Errors;
            p["$dead_lettered"].Value = record.DeadLettered;
            p["$p50"].Value = record.LatencyP50Ms;
            p["$p95"].Value = record.LatencyP95Ms;
            p["$p99"].Value = record.LatencyP99Ms;
            p["$max"].Value = record.LatencyMaxMs;
            p["$cpu"].Value = record.CpuPercent;
            p["$memory"].Value = record.MemoryBytes;
            p["$queue_depth"].Value = record.QueueDepth;
            p["$queue_bytes"].Value = record.QueueBytes;
            p["$reports_shed"].Value = record.ReportsShed;
            return _insert.ExecuteNonQuery() == 1;
        }

        public void AddToMinute(string deviceId, TelemetryRecord record)
        {
            var p = _minute.Parameters;
            p["$device"].Value = deviceId;
            p["$minute"].Value = Time(MinuteOf(record.Timestamp));
            p["$model_name"].Value = record.ModelName ?? string.Empty;
            p["$model_version"].Value = record.ModelVersion ?? string.Empty;
            p["$events_in"].Value = record.EventsIn;
            p["$events_scored"].Value = record.EventsScored;
            p["$errors"].Value = record.Errors;
            p["$dead_lettered"].Value = record.DeadLettered;
            p["$p50"].Value = record.LatencyP50Ms;
            p["$p99"].Value = record.LatencyP99Ms;
            p["$max"].Value = record.LatencyMaxMs;
            p["$cpu"].Value = record.CpuPercent;
            p["$memory"].Value = record.MemoryBytes;
            p["$queue_depth"].Value = record.QueueDepth;
            p["$reports_shed"].Value = record.ReportsShed;
            p["$sequence"].Value = record.Sequence;
            _minute.ExecuteNonQuery();
        }

        public void CountRejection(string deviceId, string reason, long count, string detail)
        {
            var p = _rejection.Parameters;
            p["$device"].Value = deviceId;
            p["$reason"].Value = reason;
            p["$count"].Value = count;
            p["$detail"].Value = detail;
            _rejection.ExecuteNonQuery();
        }

        public void MarkSeen(string deviceId)
        {
            _seen.Parameters["$device"].Value = deviceId;
            _seen.ExecuteNonQuery();
        }

        public void Dispose()
        {
            _watermark.Dispose();
            _insert.Dispose();
            _minute.Dispose();
            _rejection.Dispose();
            _seen.Dispose();
        }

        /// <summary>A command whose parameters are every <c>$name</c> its text uses, to be given values per run.</summary>
        private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction transaction, string sql)
        {
            var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            foreach (var name in System.Text.RegularExpressions.Regex.Matches(sql, @"\$[a-z0-9_]+").Select(m => m.Value).Distinct(StringComparer.Ordinal))
            {
                command.Parameters.Add(new SqliteParameter(name, DBNull.Value));
            }

            command.Prepare();
            return command;
        }
    }
}
