using Microsoft.Data.Sqlite;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>
/// Ordered schema migrations tracked in <c>PRAGMA user_version</c>: step N is entry N - 1. A
/// migration is never edited once released; changes go in a new entry at the end.
/// </summary>
internal static class SqliteMigrations
{
    private static readonly string[] Steps =
    [
        """
        CREATE TABLE devices (
            id TEXT PRIMARY KEY,
            tags TEXT NOT NULL,
            credential_hash TEXT NOT NULL,
            enrolled_at TEXT NOT NULL,
            status TEXT NOT NULL,
            last_seen TEXT NULL,
            desired TEXT NULL,
            reported TEXT NULL
        );
        CREATE TABLE models (
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            repository TEXT NOT NULL,
            manifest_digest TEXT NOT NULL,
            manifest_size INTEGER NOT NULL,
            model_digest TEXT NOT NULL,
            model_size INTEGER NOT NULL,
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
            sequence INTEGER NOT NULL,
            kind TEXT NOT NULL,
            received_at TEXT NOT NULL,
            ts TEXT NOT NULL,
            model_name TEXT NULL,
            model_version TEXT NULL,
            model_digest TEXT NULL,
            events_in INTEGER NOT NULL,
            events_scored INTEGER NOT NULL,
            errors INTEGER NOT NULL,
            dead_lettered INTEGER NOT NULL,
            latency_p50_ms REAL NOT NULL,
            latency_p99_ms REAL NOT NULL,
            latency_max_ms REAL NOT NULL,
            cpu_percent REAL NOT NULL,
            memory_bytes INTEGER NOT NULL,
            PRIMARY KEY (device_id, sequence)
        ) WITHOUT ROWID;
        CREATE TABLE datasets (
            name TEXT PRIMARY KEY,
            digest TEXT NOT NULL,
            rows INTEGER NOT NULL,
            columns TEXT NOT NULL,
            label TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE training_runs (
            id TEXT PRIMARY KEY,
            document TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """,
        """
        CREATE TABLE registry_manifests (
            repository TEXT NOT NULL,
            digest TEXT NOT NULL,
            media_type TEXT NOT NULL,
            size INTEGER NOT NULL,
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
        """,
        """
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
            sequence INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            status INTEGER NOT NULL
        );
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """,
        """
        CREATE TABLE enrollment_groups (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            key TEXT NOT NULL,
            created_at TEXT NOT NULL,
            revoked_at TEXT NULL
        );
        """,
        // Devices hold a certificate from the device CA instead of a broker password; a device
        // enrolled before must enroll again to get one.
        """
        ALTER TABLE devices RENAME COLUMN credential_hash TO certificate_thumbprint;
        ALTER TABLE devices ADD COLUMN certificate TEXT NULL;
        ALTER TABLE devices ADD COLUMN attestation TEXT NULL;
        """,
        // Telemetry store-and-forward: spool columns, per-minute rollups and counted rejections.
        """
        ALTER TABLE telemetry ADD COLUMN latency_p95_ms REAL NOT NULL DEFAULT 0;
        ALTER TABLE telemetry ADD COLUMN queue_depth INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE telemetry ADD COLUMN queue_bytes INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE telemetry ADD COLUMN reports_shed INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX telemetry_by_time ON telemetry (ts);
        CREATE TABLE telemetry_minutes (
            device_id TEXT NOT NULL,
            minute TEXT NOT NULL,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            reports INTEGER NOT NULL,
            events_in INTEGER NOT NULL,
            events_scored INTEGER NOT NULL,
            errors INTEGER NOT NULL,
            dead_lettered INTEGER NOT NULL,
            latency_p50_ms_max REAL NOT NULL,
            latency_p99_ms_max REAL NOT NULL,
            latency_max_ms REAL NOT NULL,
            cpu_percent_avg REAL NOT NULL,
            memory_bytes_max INTEGER NOT NULL,
            queue_depth_max INTEGER NOT NULL,
            reports_shed_max INTEGER NOT NULL,
            last_sequence INTEGER NOT NULL,
            PRIMARY KEY (device_id, minute, model_name, model_version)
        ) WITHOUT ROWID;
        CREATE INDEX telemetry_minutes_by_time ON telemetry_minutes (minute);
        CREATE TABLE telemetry_rejections (
            device_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            count INTEGER NOT NULL,
            last_at TEXT NOT NULL,
            last_detail TEXT NOT NULL,
            PRIMARY KEY (device_id, reason)
        ) WITHOUT ROWID;
        CREATE TABLE telemetry_watermarks (
            device_id TEXT PRIMARY KEY,
            pruned_through INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO telemetry_minutes
        SELECT device_id, substr(ts, 1, 16) || ':00.0000000Z', COALESCE(model_name, ''), COALESCE(model_version, ''), COUNT(*),
               SUM(events_in), SUM(events_scored), SUM(errors), SUM(dead_lettered), MAX(latency_p50_ms), MAX(latency_p99_ms),
               MAX(latency_max_ms), AVG(cpu_percent), MAX(memory_bytes), 0, 0, MAX(sequence)
        FROM telemetry GROUP BY device_id, substr(ts, 1, 16), COALESCE(model_name, ''), COALESCE(model_version, '');
        """,
        // Staged rollouts, each stored whole as a document.
        """
        CREATE TABLE rollouts (
            id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            priority INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            document TEXT NOT NULL
        );
        CREATE INDEX rollouts_by_state ON rollouts (state);
        """,
        // Rollouts at fleet scale: the desired version as a column for compare-and-set writes by
        // several replicas; one row per rollout device (moved out of the rollout documents), so a
        // tick rewrites only the devices that moved; model aliases.
        """
        ALTER TABLE devices ADD COLUMN desired_version INTEGER NOT NULL DEFAULT 0;
        UPDATE devices SET desired_version = COALESCE(json_extract(desired, '$.version'), 0);
        CREATE TABLE rollout_devices (
            rollout_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            stage INTEGER NOT NULL,
            state TEXT NOT NULL,
            document TEXT NOT NULL,
            PRIMARY KEY (rollout_id, device_id)
        ) WITHOUT ROWID;
        CREATE INDEX rollout_devices_by_state ON rollout_devices (rollout_id, state, device_id, stage);
        INSERT INTO rollout_devices (rollout_id, device_id, stage, state, document)
        SELECT r.id, json_extract(d.value, '$.deviceId'), json_extract(d.value, '$.stage'), json_extract(d.value, '$.state'), d.value
        FROM rollouts r, json_each(r.document, '$.devices') d;
        UPDATE rollouts SET document = json_remove(document, '$.devices');
        CREATE TABLE model_aliases (
            name TEXT NOT NULL,
            alias TEXT NOT NULL,
            version TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            PRIMARY KEY (name, alias)
        ) WITHOUT ROWID;
        """,
        // Perf and quality telemetry per model version and arm, and the health report's new
        // columns. One sequence runs across kinds: every kind's table is keyed by (device,
        // sequence), and an insert into one looks into the others first.
        """
        ALTER TABLE telemetry ADD COLUMN disk_free_bytes INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE telemetry ADD COLUMN disk_total_bytes INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE telemetry ADD COLUMN agent_version TEXT NULL;
        ALTER TABLE telemetry ADD COLUMN attestation_state TEXT NULL;
        ALTER TABLE telemetry ADD COLUMN heartbeat_seconds INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE telemetry ADD COLUMN events_dropped INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE telemetry ADD COLUMN feedback_unmatched INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE telemetry ADD COLUMN feedback_malformed INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX telemetry_by_received ON telemetry (received_at);
        CREATE TABLE telemetry_perf (
            device_id TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            received_at TEXT NOT NULL,
            ts TEXT NOT NULL,
            interval_ms INTEGER NOT NULL,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            model_digest TEXT NOT NULL,
            arm TEXT NOT NULL,
            events_in INTEGER NOT NULL,
            events_scored INTEGER NOT NULL,
            errors INTEGER NOT NULL,
            dead_lettered INTEGER NOT NULL,
            dropped INTEGER NOT NULL,
            latency_p50_ms REAL NOT NULL,
            latency_p95_ms REAL NOT NULL,
            latency_p99_ms REAL NOT NULL,
            latency_max_ms REAL NOT NULL,
            latency_mean_ms REAL NOT NULL,
            latency_histogram BLOB NOT NULL,
            batches INTEGER NOT NULL,
            batch_size_mean REAL NOT NULL,
            batch_size_max INTEGER NOT NULL,
            batch_size_histogram TEXT NOT NULL,
            PRIMARY KEY (device_id, sequence)
        ) WITHOUT ROWID;
        CREATE INDEX telemetry_perf_by_time ON telemetry_perf (ts);
        CREATE INDEX telemetry_perf_by_received ON telemetry_perf (received_at);
        CREATE TABLE telemetry_quality (
            device_id TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            received_at TEXT NOT NULL,
            ts TEXT NOT NULL,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            model_digest TEXT NOT NULL,
            arm TEXT NOT NULL,
            scores INTEGER NOT NULL,
            score_mean REAL NOT NULL,
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
            drift_psi_max REAL NULL,
            labelled INTEGER NOT NULL,
            true_positives INTEGER NOT NULL,
            false_positives INTEGER NOT NULL,
            true_negatives INTEGER NOT NULL,
            false_negatives INTEGER NOT NULL,
            error_sum REAL NOT NULL,
            absolute_error_sum REAL NOT NULL,
            squared_error_sum REAL NOT NULL,
            PRIMARY KEY (device_id, sequence)
        ) WITHOUT ROWID;
        CREATE INDEX telemetry_quality_by_time ON telemetry_quality (ts);
        CREATE INDEX telemetry_quality_by_received ON telemetry_quality (received_at);
        CREATE TABLE telemetry_perf_minutes (
            device_id TEXT NOT NULL,
            minute TEXT NOT NULL,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            arm TEXT NOT NULL,
            records INTEGER NOT NULL,
            events_in INTEGER NOT NULL,
            events_scored INTEGER NOT NULL,
            errors INTEGER NOT NULL,
            dead_lettered INTEGER NOT NULL,
            dropped INTEGER NOT NULL,
            batches INTEGER NOT NULL,
            latency_max_ms REAL NOT NULL,
            latency_histogram BLOB NOT NULL,
            last_sequence INTEGER NOT NULL,
            PRIMARY KEY (device_id, minute, model_name, model_version, arm)
        ) WITHOUT ROWID;
        CREATE INDEX telemetry_perf_minutes_by_time ON telemetry_perf_minutes (minute);
        CREATE TABLE telemetry_quality_minutes (
            device_id TEXT NOT NULL,
            minute TEXT NOT NULL,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            arm TEXT NOT NULL,
            document TEXT NOT NULL,
            PRIMARY KEY (device_id, minute, model_name, model_version, arm)
        ) WITHOUT ROWID;
        CREATE INDEX telemetry_quality_minutes_by_time ON telemetry_quality_minutes (minute);
        """,
        """
        -- Each digest named for what it hashes: a published model's ONNX layer, and the package
        -- manifest that telemetry reports its version by.
        ALTER TABLE models RENAME COLUMN model_digest TO onnx_digest;
        ALTER TABLE models RENAME COLUMN model_size TO onnx_size;
        ALTER TABLE telemetry RENAME COLUMN model_digest TO manifest_digest;
        ALTER TABLE telemetry_perf RENAME COLUMN model_digest TO manifest_digest;
        ALTER TABLE telemetry_quality RENAME COLUMN model_digest TO manifest_digest;
        """,
        // Pulls are scoped to a repository: a blob uploaded into one is readable there (and its
        // manifests' blobs are), not through any other repository of the shared blob store.
        """
        CREATE TABLE registry_blobs (
            repository TEXT NOT NULL,
            digest TEXT NOT NULL,
            PRIMARY KEY (repository, digest)
        ) WITHOUT ROWID;
        """,
        // Datasets as immutable, numbered versions of content-addressed snapshots, and the
        // connections SQL and blob sources read through (their connection strings sealed).
        """
        CREATE TABLE dataset_versions (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            snapshot_digest TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            source_kind TEXT NOT NULL,
            source_description TEXT NOT NULL,
            format TEXT NOT NULL,
            columns TEXT NOT NULL,
            rows INTEGER NOT NULL,
            label TEXT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            parent_version INTEGER NULL,
            rules TEXT NULL,
            PRIMARY KEY (name, version)
        ) WITHOUT ROWID;
        CREATE TABLE dataset_connections (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            host TEXT NOT NULL,
            sealed_connection_string BLOB NOT NULL,
            created_at TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
        // Sweeps and their durable trial queue: a lease is one guarded UPDATE, a result is
        // accepted only from the lease's holder and attempt, and completion_seq orders results as
        // they arrived so a restarted control plane replays its planners exactly.
        """
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
            best_trial INTEGER NULL,
            best_score REAL NULL,
            model_version TEXT NULL,
            manifest_digest TEXT NULL,
            error TEXT NULL
        ) WITHOUT ROWID;
        CREATE INDEX sweeps_by_status ON sweeps (status);
        CREATE TABLE trials (
            sweep_id TEXT NOT NULL,
            number INTEGER NOT NULL,
            trainer TEXT NOT NULL,
            parameters TEXT NOT NULL,
            fidelity REAL NOT NULL,
            seed INTEGER NOT NULL,
            status TEXT NOT NULL,
            proposed_after INTEGER NOT NULL,
            attempt INTEGER NOT NULL DEFAULT 0,
            lease_owner TEXT NULL,
            lease_expires_ms INTEGER NULL,
            worker_id TEXT NULL,
            worker_build TEXT NULL,
            score REAL NULL,
            metrics TEXT NULL,
            duration_seconds REAL NULL,
            log TEXT NULL,
            error TEXT NULL,
            completion_seq INTEGER NULL,
            created_at TEXT NOT NULL,
            queued_ms INTEGER NOT NULL,
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
            slots INTEGER NOT NULL,
            last_seen_ms INTEGER NOT NULL
        ) WITHOUT ROWID;
        """,
        // What an experiment's analysis reads from quality telemetry: log-loss sums, labelled
        // probability histograms for AUC, and shadow mode's agreement and paired loss differences.
        // Records stored before carry zeros and empty histograms, as older agents send them.
        """
        ALTER TABLE telemetry_quality ADD COLUMN log_loss_sum REAL NOT NULL DEFAULT 0;
        ALTER TABLE telemetry_quality ADD COLUMN log_loss_squared_sum REAL NOT NULL DEFAULT 0;
        ALTER TABLE telemetry_quality ADD COLUMN labelled_positive_histogram TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE telemetry_quality ADD COLUMN labelled_negative_histogram TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE telemetry_quality ADD COLUMN compared INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE telemetry_quality ADD COLUMN agreements INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE telemetry_quality ADD COLUMN paired INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE telemetry_quality ADD COLUMN paired_difference_sum REAL NOT NULL DEFAULT 0;
        ALTER TABLE telemetry_quality ADD COLUMN paired_difference_squared_sum REAL NOT NULL DEFAULT 0;
        """,
        // Experiments: the definition as a document, the devices each placed (the model each had
        // before, for restoring), and every look taken, in order.
        """
        CREATE TABLE experiments (
            id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            created_at TEXT NOT NULL,
            document TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX experiments_by_state ON experiments (state);
        CREATE TABLE experiment_devices (
            experiment_id TEXT NOT NULL,
            device_id TEXT NOT NULL,
            arm TEXT NOT NULL,
            unit TEXT NOT NULL,
            state TEXT NOT NULL,
            previous TEXT NULL,
            desired_version INTEGER NULL,
            reason TEXT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (experiment_id, device_id)
        ) WITHOUT ROWID;
        CREATE TABLE experiment_looks (
            seq INTEGER PRIMARY KEY,
            experiment_id TEXT NOT NULL,
            at TEXT NOT NULL,
            document TEXT NOT NULL
        );
        CREATE INDEX experiment_looks_by_experiment ON experiment_looks (experiment_id, seq);
        """,
        """
        CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            epoch INTEGER NOT NULL,
            expires_ms INTEGER NOT NULL,
            acquired_at TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
        """
        CREATE TABLE trust_metadata (
            name TEXT PRIMARY KEY,
            document BLOB NOT NULL,
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
    ];

    public static int LatestVersion => Steps.Length;

    public static void Apply(SqliteConnection connection)
    {
        using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode=WAL;";
            wal.ExecuteNonQuery();
        }

        var current = CurrentVersion(connection);
        if (current > LatestVersion)
        {
            throw new InvalidOperationException(
                $"the database schema is version {current}, newer than this server knows ({LatestVersion}); upgrade the server");
        }

        for (var version = current + 1; version <= Steps.Length; version++)
        {
            var sql = Steps[version - 1];
            using var transaction = connection.BeginTransaction();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql + $"\nPRAGMA user_version = {version};";
            command.ExecuteNonQuery();
            transaction.Commit();
        }
    }

    private static int CurrentVersion(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version;";
        return Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
