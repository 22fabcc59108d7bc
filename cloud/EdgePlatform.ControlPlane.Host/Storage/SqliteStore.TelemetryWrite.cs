using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Telemetry;
using Dapper;
using Microsoft.Data.Sqlite;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage;

public sealed partial class SqliteStore
{
    /// <summary>The raw table of each telemetry kind: health, perf, quality.</summary>
    private static readonly string[] KindTables = ["telemetry", "telemetry_perf", "telemetry_quality"];

    public async Task<IReadOnlyList<StoredTelemetry>> WriteTelemetryAsync(TelemetryWrite write, CancellationToken cancellationToken)
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
        var stored = new List<StoredTelemetry>(write.Batches.Count);
        foreach (var batch in write.Batches)
        {
            cancellationToken.ThrowIfCancellationRequested();

            // Raw reports older than the retention window are gone, but their sequences must still be refused.
            var prunedThrough = writer.PrunedThrough(batch.DeviceId);
            var health = new List<TelemetryRecord>(batch.Records.Count);
            foreach (var record in batch.Records)
            {
                // Only a report stored just now is added to its minute, so a replay never counts twice.
                if (record.Sequence > prunedThrough && writer.Insert(batch.DeviceId, batch.Kind, record))
                {
                    writer.AddToMinute(batch.DeviceId, record);
                    health.Add(record);
                }
            }

            var perf = batch.Perf.Where(r => r.Sequence > prunedThrough && writer.Insert(batch.DeviceId, r)).ToList();
            foreach (var record in perf)
            {
                writer.AddToMinute(batch.DeviceId, record);
            }

            var quality = batch.Quality.Where(r => r.Sequence > prunedThrough && writer.Insert(batch.DeviceId, r)).ToList();
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

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return stored;
    }

    public async Task<IReadOnlyList<(string DeviceId, PerfRecord Record)>> QueryPerfAsync(TelemetryFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var connection = Open();
        var rows = await connection.QueryAsync<PerfRow>(new CommandDefinition(
            $"SELECT * FROM telemetry_perf WHERE {FilterSql(filter, "ts", "model_name", "model_version")} ORDER BY ts, device_id, sequence LIMIT @Limit",
            FilterParameters(filter),
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => (r.DeviceId, r.ToRecord()))];
    }

    public async Task<IReadOnlyList<(string DeviceId, QualityRecord Record)>> QueryQualityAsync(TelemetryFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var connection = Open();
        var rows = await connection.QueryAsync<QualityRow>(new CommandDefinition(
            $"SELECT * FROM telemetry_quality WHERE {FilterSql(filter, "ts", "model_name", "model_version")} ORDER BY ts, device_id, sequence LIMIT @Limit",
            FilterParameters(filter),
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => (r.DeviceId, r.ToRecord()))];
    }

    public async Task<IReadOnlyList<PerfMinute>> QueryPerfMinutesAsync(TelemetryFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var connection = Open();

        // A range that starts mid-minute includes that minute's rollup.
        var byMinute = filter with { From = filter.From is { } from ? MinuteOf(from) : null };
        var rows = await connection.QueryAsync<PerfMinuteRow>(new CommandDefinition(
            $"SELECT * FROM telemetry_perf_minutes WHERE {FilterSql(byMinute, "minute", "model_name", "model_version")} ORDER BY minute, model_name, model_version, arm",
            FilterParameters(byMinute),
            cancellationToken: cancellationToken)).ConfigureAwait(false);

        // Devices' rollups of one minute, version and arm merge into one: counters add, histograms add.
        return [.. rows
            .GroupBy(r => (r.Minute, r.ModelName, r.ModelVersion, r.Arm))
            .Take(filter.Limit)
            .Select(g =>
            {
                var histogram = Telemetry.LatencyHistograms.Merge(g.Select(r => (ReadOnlyMemory<byte>)r.LatencyHistogram));
                return new PerfMinute(
                    ParseTime(g.Key.Minute), g.Key.ModelName, g.Key.ModelVersion, g.Key.Arm, g.Select(r => r.DeviceId).Distinct(StringComparer.Ordinal).Count(),
                    g.Sum(r => r.Records), g.Sum(r => r.EventsIn), g.Sum(r => r.EventsScored), g.Sum(r => r.Errors), g.Sum(r => r.DeadLettered),
                    g.Sum(r => r.Dropped), g.Sum(r => r.Batches), histogram?.TotalCount ?? 0,
                    Telemetry.LatencyHistograms.PercentileMs(histogram, 50), Telemetry.LatencyHistograms.PercentileMs(histogram, 95),
                    Telemetry.LatencyHistograms.PercentileMs(histogram, 99), g.Max(r => r.LatencyMaxMs));
            })];
    }

    public async Task<IReadOnlyList<QualityMinute>> QueryQualityMinutesAsync(TelemetryFilter filter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        await using var connection = Open();
        var byMinute = filter with { From = filter.From is { } from ? MinuteOf(from) : null };
        var rows = await connection.QueryAsync<(string DeviceId, string Minute, string ModelName, string ModelVersion, string Arm, string Document)>(new CommandDefinition(
            $"SELECT device_id, minute, model_name, model_version, arm, document FROM telemetry_quality_minutes WHERE {FilterSql(byMinute, "minute", "model_name", "model_version")} ORDER BY minute, model_name, model_version, arm, device_id",
            FilterParameters(byMinute),
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows
            .GroupBy(r => (r.Minute, r.ModelName, r.ModelVersion, r.Arm))
            .Take(filter.Limit)
            .Select(g => g.Select(r => FromJson(r.Document, ContractsJsonContext.Default.QualityMinute)).Aggregate((a, b) => QualityRollup.Combine(a, b, sameDevice: false)))];
    }

    /// <summary>
    /// How the perf and quality tables, whose manifest_digest column is NOT NULL from before
    /// models loaded from files were reported apart, hold "no package": written for a null
    /// digest and read back as null.
    /// </summary>
    private const string NoManifest = "";

    private static string? NullIfEmpty(string digest) => digest.Length == 0 ? null : digest;

#pragma warning disable CA1812 // Instantiated by Dapper.
    private sealed class PerfRow
    {
        public string DeviceId { get; set; } = "";
        public long Sequence { get; set; }
        public string Ts { get; set; } = "";
        public long IntervalMs { get; set; }
        public string ModelName { get; set; } = "";
        public string ModelVersion { get; set; } = "";
        public string ManifestDigest { get; set; } = "";
        public string Arm { get; set; } = "";
        public long EventsIn { get; set; }
        public long EventsScored { get; set; }
        public long Errors { get; set; }
        public long DeadLettered { get; set; }
        public long Dropped { get; set; }
        public double LatencyP50Ms { get; set; }
        public double LatencyP95Ms { get; set; }
        public double LatencyP99Ms { get; set; }
        public double LatencyMaxMs { get; set; }
        public double LatencyMeanMs { get; set; }
        public byte[] LatencyHistogram { get; set; } = [];
        public long Batches { get; set; }
        public double BatchSizeMean { get; set; }
        public long BatchSizeMax { get; set; }
        public string BatchSizeHistogram { get; set; } = "[]";

        public PerfRecord ToRecord() => new(
            Sequence, ParseTime(Ts), IntervalMs, ModelName, ModelVersion, NullIfEmpty(ManifestDigest), Arm, EventsIn, EventsScored, Errors, DeadLettered, Dropped,
            LatencyP50Ms, LatencyP95Ms, LatencyP99Ms, LatencyMaxMs, LatencyMeanMs, LatencyHistogram, Batches, BatchSizeMean, BatchSizeMax,
            FromJson(BatchSizeHistogram, StorageJsonContext.Default.Int64Array));
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

    private sealed class QualityRow
    {
        public string DeviceId { get; set; } = "";
        public long Sequence { get; set; }
        public string Ts { get; set; } = "";
        public string ModelName { get; set; } = "";
        public string ModelVersion { get; set; } = "";
        public string ManifestDigest { get; set; } = "";
        public string Arm { get; set; } = "";
        public long Scores { get; set; }
        public double ScoreMean { get; set; }
        public string ScoreBinEdges { get; set; } = "[]";
        public string ScoreHistogram { get; set; } = "[]";
        public string FeatureNames { get; set; } = "[]";
        public string FeatureCount { get; set; } = "[]";
        public string FeatureMean { get; set; } = "[]";
        public string FeatureVariance { get; set; } = "[]";
        public string FeatureMin { get; set; } = "[]";
        public string FeatureMax { get; set; } = "[]";
        public string FeaturePsi { get; set; } = "[]";
        public string FeatureDecileCounts { get; set; } = "[]";
        public double? DriftPsiMax { get; set; }
        public long Labelled { get; set; }
        public long TruePositives { get; set; }
        public long FalsePositives { get; set; }
        public long TrueNegatives { get; set; }
        public long FalseNegatives { get; set; }
        public double ErrorSum { get; set; }
        public double AbsoluteErrorSum { get; set; }
        public double SquaredErrorSum { get; set; }
        public double LogLossSum { get; set; }
        public double LogLossSquaredSum { get; set; }
        public string LabelledPositiveHistogram { get; set; } = "[]";
        public string LabelledNegativeHistogram { get; set; } = "[]";
        public long Compared { get; set; }
        public long Agreements { get; set; }
        public long Paired { get; set; }
        public double PairedDifferenceSum { get; set; }
        public double PairedDifferenceSquaredSum { get; set; }

        public QualityRecord ToRecord() => new(
            Sequence, ParseTime(Ts), ModelName, ModelVersion, NullIfEmpty(ManifestDigest), Arm, Scores, ScoreMean,
            FromJson(ScoreBinEdges, StorageJsonContext.Default.DoubleArray),
            FromJson(ScoreHistogram, StorageJsonContext.Default.Int64Array),
            FromJson(FeatureNames, StorageJsonContext.Default.StringArray),
            FromJson(FeatureCount, StorageJsonContext.Default.Int64Array),
            FromJson(FeatureMean, StorageJsonContext.Default.DoubleArray),
            FromJson(FeatureVariance, StorageJsonContext.Default.DoubleArray),
            FromJson(FeatureMin, StorageJsonContext.Default.DoubleArray),
            FromJson(FeatureMax, StorageJsonContext.Default.DoubleArray),
            FromJson(FeaturePsi, StorageJsonContext.Default.NullableDoubleArray),
            FromJson(FeatureDecileCounts, StorageJsonContext.Default.Int64Array),
            DriftPsiMax, Labelled, TruePositives, FalsePositives, TrueNegatives, FalseNegatives, ErrorSum, AbsoluteErrorSum, SquaredErrorSum,
            LogLossSum, LogLossSquaredSum,
            FromJson(LabelledPositiveHistogram, StorageJsonContext.Default.Int64Array),
            FromJson(LabelledNegativeHistogram, StorageJsonContext.Default.Int64Array),
            Compared, Agreements, Paired, PairedDifferenceSum, PairedDifferenceSquaredSum);
    }
#pragma warning restore CA1812

    /// <summary>
    /// The statements of one telemetry transaction, each prepared once and run per report: a
    /// batch of hundreds of messages pays for parsing and planning once.
    /// </summary>
    private sealed class TelemetryWriter : IDisposable
    {
        private readonly SqliteCommand _watermark;
        private readonly SqliteCommand _insert;
        private readonly SqliteCommand _perf;
        private readonly SqliteCommand _perfMinuteHistogram;
        private readonly SqliteCommand _perfMinute;
        private readonly SqliteCommand _qualityMinuteDocument;
        private readonly SqliteCommand _qualityMinute;
        private readonly SqliteCommand _quality;
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
                INSERT OR IGNORE INTO telemetry (device_id, sequence, kind, received_at, ts, model_name, model_version, manifest_digest,
                    events_in, events_scored, errors, dead_lettered, latency_p50_ms, latency_p95_ms, latency_p99_ms, latency_max_ms,
                    cpu_percent, memory_bytes, queue_depth, queue_bytes, reports_shed, disk_free_bytes, disk_total_bytes, agent_version,
                    attestation_state, heartbeat_seconds, events_dropped, feedback_unmatched, feedback_malformed)
                SELECT $device, $sequence, $kind, $received, $ts, $model_name, $model_version, $manifest_digest,
                    $events_in, $events_scored, $errors, $dead_lettered, $p50, $p95, $p99, $max,
                    $cpu, $memory, $queue_depth, $queue_bytes, $reports_shed, $disk_free, $disk_total, $agent_version,
                    $attestation_state, $heartbeat_seconds, $events_dropped, $feedback_unmatched, $feedback_malformed
                """ + NotUnderAnotherKind("telemetry"));
            _perf = Command(
                connection,
                transaction,
                """
                INSERT OR IGNORE INTO telemetry_perf (device_id, sequence, received_at, ts, interval_ms, model_name, model_version, manifest_digest, arm,
                    events_in, events_scored, errors, dead_lettered, dropped, latency_p50_ms, latency_p95_ms, latency_p99_ms, latency_max_ms,
                    latency_mean_ms, latency_histogram, batches, batch_size_mean, batch_size_max, batch_size_histogram)
                SELECT $device, $sequence, $received, $ts, $interval_ms, $model_name, $model_version, $manifest_digest, $arm,
                    $events_in, $events_scored, $errors, $dead_lettered, $dropped, $p50, $p95, $p99, $max,
                    $mean, $histogram, $batches, $batch_mean, $batch_max, $batch_histogram
                """ + NotUnderAnotherKind("telemetry_perf"));
            _perfMinuteHistogram = Command(
                connection,
                transaction,
                "SELECT latency_histogram FROM telemetry_perf_minutes WHERE device_id = $device AND minute = $minute AND model_name = $model_name AND model_version = $model_version AND arm = $arm");
            _perfMinute = Command(
                connection,
                transaction,
                """
                INSERT INTO telemetry_perf_minutes (device_id, minute, model_name, model_version, arm, records, events_in, events_scored, errors,
                    dead_lettered, dropped, batches, latency_max_ms, latency_histogram, last_sequence)
                VALUES ($device, $minute, $model_name, $model_version, $arm, 1, $events_in, $events_scored, $errors,
                    $dead_lettered, $dropped, $batches, $max, $histogram, $sequence)
                ON CONFLICT (device_id, minute, model_name, model_version, arm) DO UPDATE SET
                    records = records + 1,
                    events_in = events_in + excluded.events_in,
                    events_scored = events_scored + excluded.events_scored,
                    errors = errors + excluded.errors,
                    dead_lettered = dead_lettered + excluded.dead_lettered,
                    dropped = dropped + excluded.dropped,
                    batches = batches + excluded.batches,
                    latency_max_ms = max(latency_max_ms, excluded.latency_max_ms),
                    latency_histogram = excluded.latency_histogram,
                    last_sequence = max(last_sequence, excluded.last_sequence)
                """);
            _qualityMinuteDocument = Command(
                connection,
                transaction,
                "SELECT document FROM telemetry_quality_minutes WHERE device_id = $device AND minute = $minute AND model_name = $model_name AND model_version = $model_version AND arm = $arm");
            _qualityMinute = Command(
                connection,
                transaction,
                """
                INSERT INTO telemetry_quality_minutes (device_id, minute, model_name, model_version, arm, document)
                VALUES ($device, $minute, $model_name, $model_version, $arm, $document)
                ON CONFLICT (device_id, minute, model_name, model_version, arm) DO UPDATE SET document = excluded.document
                """);
            _quality = Command(
                connection,
                transaction,
                """
                INSERT OR IGNORE INTO telemetry_quality (device_id, sequence, received_at, ts, model_name, model_version, manifest_digest, arm,
                    scores, score_mean, score_bin_edges, score_histogram, feature_names, feature_count, feature_mean, feature_variance,
                    feature_min, feature_max, feature_psi, feature_decile_counts, drift_psi_max, labelled, true_positives, false_positives,
                    true_negatives, false_negatives, error_sum, absolute_error_sum, squared_error_sum, log_loss_sum, log_loss_squared_sum,
                    labelled_positive_histogram, labelled_negative_histogram, compared, agreements, paired, paired_difference_sum,
                    paired_difference_squared_sum)
                SELECT $device, $sequence, $received, $ts, $model_name, $model_version, $manifest_digest, $arm,
                    $scores, $score_mean, $score_bin_edges, $score_histogram, $feature_names, $feature_count, $feature_mean, $feature_variance,
                    $feature_min, $feature_max, $feature_psi, $feature_decile_counts, $drift_psi_max, $labelled, $tp, $fp,
                    $tn, $fn, $error_sum, $absolute_error_sum, $squared_error_sum, $log_loss_sum, $log_loss_squared_sum,
                    $labelled_positive_histogram, $labelled_negative_histogram, $compared, $agreements, $paired, $paired_difference_sum,
                    $paired_difference_squared_sum
                """ + NotUnderAnotherKind("telemetry_quality"));
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
            _perf.Parameters["$received"].Value = receivedAt;
            _quality.Parameters["$received"].Value = receivedAt;
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
            p["$manifest_digest"].Value = (object?)record.ManifestDigest ?? DBNull.Value;
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
            p["$disk_free"].Value = record.DiskFreeBytes;
            p["$disk_total"].Value = record.DiskTotalBytes;
            p["$agent_version"].Value = (object?)record.AgentVersion ?? DBNull.Value;
            p["$attestation_state"].Value = (object?)record.AttestationState ?? DBNull.Value;
            p["$heartbeat_seconds"].Value = record.HeartbeatSeconds;
            p["$events_dropped"].Value = record.EventsDropped;
            p["$feedback_unmatched"].Value = record.FeedbackUnmatched;
            p["$feedback_malformed"].Value = record.FeedbackMalformed;
            return _insert.ExecuteNonQuery() == 1;
        }

        /// <summary>False when the device already has a record of any kind with this sequence.</summary>
        public bool Insert(string deviceId, PerfRecord record)
        {
            var p = _perf.Parameters;
            p["$device"].Value = deviceId;
            p["$sequence"].Value = record.Sequence;
            p["$ts"].Value = Time(record.Timestamp);
            p["$interval_ms"].Value = record.IntervalMs;
            p["$model_name"].Value = record.ModelName;
            p["$model_version"].Value = record.ModelVersion;
            p["$manifest_digest"].Value = record.ManifestDigest ?? NoManifest;
            p["$arm"].Value = record.Arm;
            p["$events_in"].Value = record.EventsIn;
            p["$events_scored"].Value = record.EventsScored;
            p["$errors"].Value = record.Errors;
            p["$dead_lettered"].Value = record.DeadLettered;
            p["$dropped"].Value = record.Dropped;
            p["$p50"].Value = record.LatencyP50Ms;
            p["$p95"].Value = record.LatencyP95Ms;
            p["$p99"].Value = record.LatencyP99Ms;
            p["$max"].Value = record.LatencyMaxMs;
            p["$mean"].Value = record.LatencyMeanMs;
            p["$histogram"].Value = record.LatencyHistogram.ToArray();
            p["$batches"].Value = record.Batches;
            p["$batch_mean"].Value = record.BatchSizeMean;
            p["$batch_max"].Value = record.BatchSizeMax;
            p["$batch_histogram"].Value = ListJson(record.BatchSizeHistogram);
            return _perf.ExecuteNonQuery() == 1;
        }

        /// <summary>
        /// Adds a new perf record to its device's minute of its version and arm: counters summed,
        /// the latency histogram merged with the minute's, so the minute's percentiles are true ones.
        /// </summary>
        public void AddToMinute(string deviceId, PerfRecord record)
        {
            var minute = Time(MinuteOf(record.Timestamp));
            var lookup = _perfMinuteHistogram.Parameters;
            lookup["$device"].Value = deviceId;
            lookup["$minute"].Value = minute;
            lookup["$model_name"].Value = record.ModelName;
            lookup["$model_version"].Value = record.ModelVersion;
            lookup["$arm"].Value = record.Arm;
            var held = _perfMinuteHistogram.ExecuteScalar() as byte[] ?? [];
            var merged = Telemetry.LatencyHistograms.Merge([held, record.LatencyHistogram]);

            var p = _perfMinute.Parameters;
            p["$device"].Value = deviceId;
            p["$minute"].Value = minute;
            p["$model_name"].Value = record.ModelName;
            p["$model_version"].Value = record.ModelVersion;
            p["$arm"].Value = record.Arm;
            p["$events_in"].Value = record.EventsIn;
            p["$events_scored"].Value = record.EventsScored;
            p["$errors"].Value = record.Errors;
            p["$dead_lettered"].Value = record.DeadLettered;
            p["$dropped"].Value = record.Dropped;
            p["$batches"].Value = record.Batches;
            p["$max"].Value = record.LatencyMaxMs;
            p["$histogram"].Value = merged is null ? Array.Empty<byte>() : Telemetry.LatencyHistograms.Encode(merged);
            p["$sequence"].Value = record.Sequence;
            _perfMinute.ExecuteNonQuery();
        }

        /// <summary>Adds a new quality record to its device's minute of its version and arm (<see cref="QualityRollup"/> says how).</summary>
        public void AddToMinute(string deviceId, QualityRecord record)
        {
            var minute = MinuteOf(record.Timestamp);
            var p = _qualityMinuteDocument.Parameters;
            p["$device"].Value = deviceId;
            p["$minute"].Value = Time(minute);
            p["$model_name"].Value = record.ModelName;
            p["$model_version"].Value = record.ModelVersion;
            p["$arm"].Value = record.Arm;
            var added = QualityRollup.From(record, minute);
            var held = _qualityMinuteDocument.ExecuteScalar() as string;
            var combined = held is null ? added : QualityRollup.Combine(FromJson(held, ContractsJsonContext.Default.QualityMinute), added, sameDevice: true);

            var q = _qualityMinute.Parameters;
            q["$device"].Value = deviceId;
            q["$minute"].Value = Time(minute);
            q["$model_name"].Value = record.ModelName;
            q["$model_version"].Value = record.ModelVersion;
            q["$arm"].Value = record.Arm;
            q["$document"].Value = Json(combined, ContractsJsonContext.Default.QualityMinute);
            _qualityMinute.ExecuteNonQuery();
        }

        /// <summary>False when the device already has a record of any kind with this sequence.</summary>
        public bool Insert(string deviceId, QualityRecord record)
        {
            var p = _quality.Parameters;
            p["$device"].Value = deviceId;
            p["$sequence"].Value = record.Sequence;
            p["$ts"].Value = Time(record.Timestamp);
            p["$model_name"].Value = record.ModelName;
            p["$model_version"].Value = record.ModelVersion;
            p["$manifest_digest"].Value = record.ManifestDigest ?? NoManifest;
            p["$arm"].Value = record.Arm;
            p["$scores"].Value = record.Scores;
            p["$score_mean"].Value = record.ScoreMean;
            p["$score_bin_edges"].Value = ListJson(record.ScoreBinEdges);
            p["$score_histogram"].Value = ListJson(record.ScoreHistogram);
            p["$feature_names"].Value = ListJson(record.FeatureNames);
            p["$feature_count"].Value = ListJson(record.FeatureCount);
            p["$feature_mean"].Value = ListJson(record.FeatureMean);
            p["$feature_variance"].Value = ListJson(record.FeatureVariance);
            p["$feature_min"].Value = ListJson(record.FeatureMin);
            p["$feature_max"].Value = ListJson(record.FeatureMax);
            p["$feature_psi"].Value = ListJson(record.FeaturePsi);
            p["$feature_decile_counts"].Value = ListJson(record.FeatureDecileCounts);
            p["$drift_psi_max"].Value = (object?)record.DriftPsiMax ?? DBNull.Value;
            p["$labelled"].Value = record.Labelled;
            p["$tp"].Value = record.TruePositives;
            p["$fp"].Value = record.FalsePositives;
            p["$tn"].Value = record.TrueNegatives;
            p["$fn"].Value = record.FalseNegatives;
            p["$error_sum"].Value = record.ErrorSum;
            p["$absolute_error_sum"].Value = record.AbsoluteErrorSum;
            p["$squared_error_sum"].Value = record.SquaredErrorSum;
            p["$log_loss_sum"].Value = record.LogLossSum;
            p["$log_loss_squared_sum"].Value = record.LogLossSquaredSum;
            p["$labelled_positive_histogram"].Value = ListJson(record.LabelledPositiveHistogram);
            p["$labelled_negative_histogram"].Value = ListJson(record.LabelledNegativeHistogram);
            p["$compared"].Value = record.Compared;
            p["$agreements"].Value = record.Agreements;
            p["$paired"].Value = record.Paired;
            p["$paired_difference_sum"].Value = record.PairedDifferenceSum;
            p["$paired_difference_squared_sum"].Value = record.PairedDifferenceSquaredSum;
            return _quality.ExecuteNonQuery() == 1;
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
            _perf.Dispose();
            _perfMinuteHistogram.Dispose();
            _perfMinute.Dispose();
            _qualityMinuteDocument.Dispose();
            _qualityMinute.Dispose();
            _quality.Dispose();
            _minute.Dispose();
            _rejection.Dispose();
            _seen.Dispose();
        }

        /// <summary>
        /// The condition that keeps one sequence to one kind: an insert into <paramref name="table"/>
        /// happens only when no other kind's table holds the device's sequence.
        /// </summary>
        private static string NotUnderAnotherKind(string table) =>
            "\nWHERE " + string.Join(
                " AND ",
                KindTables
                    .Where(other => other != table)
                    .Select(other => $"NOT EXISTS (SELECT 1 FROM {other} WHERE device_id = $device AND sequence = $sequence)"));

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
