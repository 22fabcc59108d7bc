using Microsoft.Data.Sqlite;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>
/// Ordered schema migrations tracked in <c>PRAGMA user_version</c>. A migration is never edited
/// once released; changes go in a new entry.
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
        // Rollouts. This is meant to be step 7: step 6 is held by the telemetry store-and-forward
        // change, which is not on this branch yet, so here it runs as the next free index (6).
        // When the two meet, this entry goes after telemetry's step 6 so it becomes step 7; a
        // database that ran it as step 6 must be recreated, or it would never run telemetry's step.
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
        if (current > Steps.Length)
        {
            throw new InvalidOperationException(
                $"the database schema is version {current}, newer than this server knows ({Steps.Length}); upgrade the server");
        }

        for (var version = current; version < Steps.Length; version++)
        {
            using var transaction = connection.BeginTransaction();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = Steps[version] + $"\nPRAGMA user_version = {version + 1};";
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
