using Npgsql;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>
/// Ordered schema migrations for PostgreSQL, tracked in <c>schema_migrations</c>: step N is entry
/// N - 1. Step 1 is the schema the SQLite migrations had reached when PostgreSQL joined (same
/// tables and columns; 64-bit integers, double precision, bytea). A migration is never edited
/// once released; changes go in a new entry at the end, on both databases.
/// Replicas that start together serialise on an advisory lock, so each step runs once.
/// </summary>
internal static class PostgresMigrations
{
    /// <summary>The advisory lock key the migrations hold (any fixed 64-bit number, unique to this schema).</summary>
    private const long LockKey = 0x4564_6765_506C_6174;

    private static readonly string[] Steps =
    [
        """
        CREATE TABLE devices (
            id TEXT PRIMARY KEY,
            tags TEXT NOT NULL,
            certificate_thumbprint TEXT NOT NULL,
            enrolled_at TEXT NOT NULL,
            status TEXT NOT NULL,
            last_seen TEXT NULL,
            desired TEXT NULL,
            reported TEXT NULL,
            certificate TEXT NULL,
            attestation TEXT NULL,
            desired_version BIGINT NOT NULL DEFAULT 0
        );
        CREATE TABLE models (
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            repository TEXT NOT NULL,
            manifest_digest TEXT NOT NULL,
            manifest_size BIGINT NOT NULL,
            onnx_digest TEXT NOT NULL,
            onnx_size BIGINT NOT NULL,
            signature TEXT NOT NULL,
            metrics TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (name, version)
        );
        CREATE INDEX models_by_digest ON models (repository, manifest_digest);
        CREATE TABLE deployments (
            id TEXT PRIMARY KEY,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            manifest_digest TEXT NOT NULL,
            devices TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE telemetry (
            device_id TEXT NOT NULL,
            sequence BIGINT NOT NULL,
            kind TEXT NOT NULL,
            received_at TEXT NOT NULL,
            ts TEXT NOT NULL,
            model_name TEXT NULL,
            model_version TEXT NULL,
            manifest_digest TEXT NULL,
            events_in BIGINT NOT NULL,
            events_scored BIGINT NOT NULL,
            errors BIGINT NOT NULL,
            dead_lettered BIGINT NOT NULL,
            latency_p50_ms DOUBLE PRECISION NOT NULL,
            latency_p99_ms DOUBLE PRECISION NOT NULL,
            latency_max_ms DOUBLE PRECISION NOT NULL,
            cpu_percent DOUBLE PRECISION NOT NULL,
            memory_bytes BIGINT NOT NULL,
            latency_p95_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
            queue_depth BIGINT NOT NULL DEFAULT 0,
            queue_bytes BIGINT NOT NULL DEFAULT 0,
            reports_shed BIGINT NOT NULL DEFAULT 0,
            disk_free_bytes BIGINT NOT NULL DEFAULT 0,
            disk_total_bytes BIGINT NOT NULL DEFAULT 0,
            agent_version TEXT NULL,
            attestation_state TEXT NULL,
            heartbeat_seconds BIGINT NOT NULL DEFAULT 0,
            events_dropped BIGINT NOT NULL DEFAULT 0,
            feedback_unmatched BIGINT NOT NULL DEFAULT 0,
            feedback_malformed BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (device_id, sequence)
        );
        CREATE TABLE datasets (
            name TEXT PRIMARY KEY,
            digest TEXT NOT NULL,
            rows BIGINT NOT NULL,
            columns TEXT NOT NULL,
            label TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE training_runs (
            id TEXT PRIMARY KEY,
            document TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE registry_manifests (
            repository TEXT NOT NULL,
            digest TEXT NOT NULL,
            media_type TEXT NOT NULL,
            size BIGINT NOT NULL,
            pushed_at TEXT NOT NULL,
            PRIMARY KEY (repository, digest)
        );
        CREATE TABLE registry_tags (
            repository TEXT NOT NULL,
            tag TEXT NOT NULL,
            digest TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (repository, tag)
        );
        CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            hash TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT NULL
        );
        CREATE TABLE audit_log (
            sequence BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            status BIGINT NOT NULL
        );
        CREATE TABLE enrollment_groups (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            key TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT NULL
        );
        CREATE INDEX telemetry_by_time ON telemetry (ts);
        CREATE TABLE telemetry_minutes (
            device_id TEXT NOT NULL,
            minute TEXT NOT NULL,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            reports BIGINT NOT NULL,
            events_in BIGINT NOT NULL,
            events_scored BIGINT NOT NULL,
            errors BIGINT NOT NULL,
            dead_lettered BIGINT NOT NULL,
            latency_p50_ms_max DOUBLE PRECISION NOT NULL,
            latency_p99_ms_max DOUBLE PRECISION NOT NULL,
            latency_max_ms DOUBLE PRECISION NOT NULL,
            cpu_percent_avg DOUBLE PRECISION NOT NULL,
            memory_bytes_max BIGINT NOT NULL,
            queue_depth_max BIGINT NOT NULL,
            reports_shed_max BIGINT NOT NULL,
            last_sequence BIGINT NOT NULL,
            PRIMARY KEY (device_id, minute, model_name, model_version)
        );
        CREATE INDEX telemetry_minutes_by_time ON telemetry_minutes (minute);
        CREATE TABLE telemetry_rejections (
            device_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            count BIGINT NOT NULL,
            last_at TEXT NOT NULL,
            last_detail TEXT NOT NULL,
            PRIMARY KEY (device_id, reason)
        );
        CREATE TABLE telemetry_watermarks (
            device_id TEXT PRIMARY KEY,
            pruned_through BIGINT NOT NULL
        );
        CREATE TABLE rollouts (
            id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            priority BIGINT NOT NULL,
            created_at TEXT NOT NULL,
            document TEXT NOT NULL
        );
        CREATE INDEX rollouts_by_state ON rollouts (state);
        CREATE TABLE rollout_devices (
            rollout_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            stage BIGINT NOT NULL,
            state TEXT NOT NULL,
            document TEXT NOT NULL,
            PRIMARY KEY (rollout_id, device_id)
        );
        CREATE INDEX rollout_devices_by_state ON rollout_devices (rollout_id, state, device_id, stage);
        CREATE TABLE model_aliases (
            name TEXT NOT NULL,
            alias TEXT NOT NULL,
            version TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            PRIMARY KEY (name, alias)
        );
        CREATE INDEX telemetry_by_received ON telemetry (received_at);
        CREATE TABLE telemetry_perf (
            device_id TEXT NOT NULL,
            sequence BIGINT NOT NULL,
            received_at TEXT NOT NULL,
            ts TEXT NOT NULL,
            interval_ms BIGINT NOT NULL,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            manifest_digest TEXT NOT NULL,
            arm TEXT NOT NULL,
            events_in BIGINT NOT NULL,
            events_scored BIGINT NOT NULL,
            errors BIGINT NOT NULL,
            dead_lettered BIGINT NOT NULL,
            dropped BIGINT NOT NULL,
            latency_p50_ms DOUBLE PRECISION NOT NULL,
            latency_p95_ms DOUBLE PRECISION NOT NULL,
            latency_p99_ms DOUBLE PRECISION NOT NULL,
            latency_max_ms DOUBLE PRECISION NOT NULL,
            latency_mean_ms DOUBLE PRECISION NOT NULL,
            latency_histogram BYTEA NOT NULL,
            batches BIGINT NOT NULL,
            batch_size_mean DOUBLE PRECISION NOT NULL,
            batch_size_max BIGINT NOT NULL,
            batch_size_histogram TEXT NOT NULL,
            PRIMARY KEY (device_id, sequence)
        );
        CREATE INDEX telemetry_perf_by_time ON telemetry_perf (ts);
        CREATE INDEX telemetry_perf_by_received ON telemetry_perf (received_at);
        CREATE TABLE telemetry_quality (
            device_id TEXT NOT NULL,
            sequence BIGINT NOT NULL,
            received_at TEXT NOT NULL,
            ts TEXT NOT NULL,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            manifest_digest TEXT NOT NULL,
            arm TEXT NOT NULL,
            scores BIGINT NOT NULL,
            score_mean DOUBLE PRECISION NOT NULL,
            score_bin_edges TEXT NOT NULL,
            score_histogram TEXT NOT NULL,
            feature_names TEXT NOT NULL,
            feature_count TEXT NOT NULL,
            feature_mean TEXT NOT NULL,
            feature_variance TEXT NOT NULL,
            feature_min TEXT NOT NULL,
            feature_max TEXT NOT NULL,
            feature_psi TEXT NOT NULL,
            feature_decile_counts TEXT NOT NULL,
            drift_psi_max DOUBLE PRECISION NULL,
            labelled BIGINT NOT NULL,
            true_positives BIGINT NOT NULL,
            false_positives BIGINT NOT NULL,
            true_negatives BIGINT NOT NULL,
            false_negatives BIGINT NOT NULL,
            error_sum DOUBLE PRECISION NOT NULL,
            absolute_error_sum DOUBLE PRECISION NOT NULL,
            squared_error_sum DOUBLE PRECISION NOT NULL,
            log_loss_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
            log_loss_squared_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
            labelled_positive_histogram TEXT NOT NULL DEFAULT '[]',
            labelled_negative_histogram TEXT NOT NULL DEFAULT '[]',
            compared BIGINT NOT NULL DEFAULT 0,
            agreements BIGINT NOT NULL DEFAULT 0,
            paired BIGINT NOT NULL DEFAULT 0,
            paired_difference_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
            paired_difference_squared_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
            PRIMARY KEY (device_id, sequence)
        );
        CREATE INDEX telemetry_quality_by_time ON telemetry_quality (ts);
        CREATE INDEX telemetry_quality_by_received ON telemetry_quality (received_at);
        CREATE TABLE telemetry_perf_minutes (
            device_id TEXT NOT NULL,
            minute TEXT NOT NULL,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            arm TEXT NOT NULL,
            records BIGINT NOT NULL,
            events_in BIGINT NOT NULL,
            events_scored BIGINT NOT NULL,
            errors BIGINT NOT NULL,
            dead_lettered BIGINT NOT NULL,
            dropped BIGINT NOT NULL,
            batches BIGINT NOT NULL,
            latency_max_ms DOUBLE PRECISION NOT NULL,
            latency_histogram BYTEA NOT NULL,
            last_sequence BIGINT NOT NULL,
            PRIMARY KEY (device_id, minute, model_name, model_version, arm)
        );
        CREATE INDEX telemetry_perf_minutes_by_time ON telemetry_perf_minutes (minute);
        CREATE TABLE telemetry_quality_minutes (
            device_id TEXT NOT NULL,
            minute TEXT NOT NULL,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            arm TEXT NOT NULL,
            document TEXT NOT NULL,
            PRIMARY KEY (device_id, minute, model_name, model_version, arm)
        );
        CREATE INDEX telemetry_quality_minutes_by_time ON telemetry_quality_minutes (minute);
        CREATE TABLE registry_blobs (
            repository TEXT NOT NULL,
            digest TEXT NOT NULL,
            PRIMARY KEY (repository, digest)
        );
        CREATE TABLE dataset_versions (
            name TEXT NOT NULL,
            version BIGINT NOT NULL,
            snapshot_digest TEXT NOT NULL,
            size_bytes BIGINT NOT NULL,
            source_kind TEXT NOT NULL,
            source_description TEXT NOT NULL,
            format TEXT NOT NULL,
            columns TEXT NOT NULL,
            rows BIGINT NOT NULL,
            label TEXT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            parent_version BIGINT NULL,
            rules TEXT NULL,
            PRIMARY KEY (name, version)
        );
        CREATE TABLE dataset_connections (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            host TEXT NOT NULL,
            sealed_connection_string BYTEA NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE sweeps (
            id TEXT PRIMARY KEY,
            spec TEXT NOT NULL,
            status TEXT NOT NULL,
            dataset TEXT NOT NULL,
            dataset_digest TEXT NOT NULL,
            dataset_info TEXT NOT NULL,
            model_name TEXT NOT NULL,
            task TEXT NULL,
            metric TEXT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            finished_at TEXT NULL,
            best_trial BIGINT NULL,
            best_score DOUBLE PRECISION NULL,
            model_version TEXT NULL,
            manifest_digest TEXT NULL,
            error TEXT NULL
        );
        CREATE INDEX sweeps_by_status ON sweeps (status);
        CREATE TABLE trials (
            sweep_id TEXT NOT NULL,
            number BIGINT NOT NULL,
            trainer TEXT NOT NULL,
            parameters TEXT NOT NULL,
            fidelity DOUBLE PRECISION NOT NULL,
            seed BIGINT NOT NULL,
            status TEXT NOT NULL,
            proposed_after BIGINT NOT NULL,
            attempt BIGINT NOT NULL DEFAULT 0,
            lease_owner TEXT NULL,
            lease_expires_ms BIGINT NULL,
            worker_id TEXT NULL,
            worker_build TEXT NULL,
            score DOUBLE PRECISION NULL,
            metrics TEXT NULL,
            duration_seconds DOUBLE PRECISION NULL,
            log TEXT NULL,
            error TEXT NULL,
            completion_seq BIGINT NULL,
            created_at TEXT NOT NULL,
            queued_ms BIGINT NOT NULL,
            finished_at TEXT NULL,
            PRIMARY KEY (sweep_id, number)
        );
        CREATE INDEX trials_queue ON trials (status, queued_ms, number);
        CREATE INDEX trials_leases ON trials (lease_expires_ms) WHERE status = 'leased';
        CREATE INDEX trials_by_score ON trials (sweep_id, score);
        CREATE INDEX trials_by_trainer ON trials (sweep_id, trainer, score);
        CREATE INDEX trials_by_completion ON trials (sweep_id, completion_seq) WHERE completion_seq IS NOT NULL;
        CREATE TABLE workers (
            id TEXT PRIMARY KEY,
            build TEXT NOT NULL,
            slots BIGINT NOT NULL,
            last_seen_ms BIGINT NOT NULL
        );
        CREATE TABLE experiments (
            id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            created_at TEXT NOT NULL,
            document TEXT NOT NULL
        );
        CREATE INDEX experiments_by_state ON experiments (state);
        CREATE TABLE experiment_devices (
            experiment_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            arm TEXT NOT NULL,
            unit TEXT NOT NULL,
            state TEXT NOT NULL,
            previous TEXT NULL,
            desired_version BIGINT NULL,
            reason TEXT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (experiment_id, device_id)
        );
        CREATE TABLE experiment_looks (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            experiment_id TEXT NOT NULL,
            at TEXT NOT NULL,
            document TEXT NOT NULL
        );
        CREATE INDEX experiment_looks_by_experiment ON experiment_looks (experiment_id, seq);
        CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only';
        END;
        $$;
        CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
        CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            epoch BIGINT NOT NULL,
            expires_ms BIGINT NOT NULL,
            acquired_at TEXT NOT NULL
        );
        """,
        """
        CREATE TABLE trust_metadata (
            name TEXT PRIMARY KEY,
            document BYTEA NOT NULL,
            updated_at TEXT NOT NULL
        );
        """,
    ];

    public static int LatestVersion => Steps.Length;

    public static void Apply(NpgsqlConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var transaction = connection.BeginTransaction();
        Execute(connection, transaction, $"SELECT pg_advisory_xact_lock({LockKey})");
        Execute(connection, transaction, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");

        using var read = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", connection, transaction);
        var current = Convert.ToInt32(read.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        if (current > LatestVersion)
        {
            throw new InvalidOperationException(
                $"the database schema is version {current}, newer than this server knows ({LatestVersion}); upgrade the server");
        }

        for (var version = current + 1; version <= Steps.Length; version++)
        {
            Execute(connection, transaction, Steps[version - 1]);
            Execute(connection, transaction, $"INSERT INTO schema_migrations (version) VALUES ({version})");
        }

        transaction.Commit();
    }

    private static void Execute(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql)
    {
        using var command = new NpgsqlCommand(sql, connection, transaction);
        command.ExecuteNonQuery();
    }
}
