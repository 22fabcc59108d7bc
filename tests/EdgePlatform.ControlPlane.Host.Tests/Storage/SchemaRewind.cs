namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

/// <summary>
/// SQL that takes a database back over the latest schema steps, newest first, so migration
/// tests can start from a database as an older server left it.
/// </summary>
internal static class SchemaRewind
{
    /// <summary>Undoes step 17: trust metadata kept in the database.</summary>
    public const string Step17 = "DROP TABLE trust_metadata; ";

    /// <summary>Undoes step 16: leases on work that runs on one replica at a time.</summary>
    public const string Step16 = "DROP TABLE leases; ";

    /// <summary>Undoes step 15: experiments, their devices and looks.</summary>
    public const string Step15 = "DROP TABLE experiment_looks; DROP TABLE experiment_devices; DROP TABLE experiments; ";

    /// <summary>Undoes step 14: quality telemetry's log-loss, labelled histograms and shadow pairing columns.</summary>
    public const string Step14 =
        "ALTER TABLE telemetry_quality DROP COLUMN log_loss_sum; ALTER TABLE telemetry_quality DROP COLUMN log_loss_squared_sum; " +
        "ALTER TABLE telemetry_quality DROP COLUMN labelled_positive_histogram; ALTER TABLE telemetry_quality DROP COLUMN labelled_negative_histogram; " +
        "ALTER TABLE telemetry_quality DROP COLUMN compared; ALTER TABLE telemetry_quality DROP COLUMN agreements; ALTER TABLE telemetry_quality DROP COLUMN paired; " +
        "ALTER TABLE telemetry_quality DROP COLUMN paired_difference_sum; ALTER TABLE telemetry_quality DROP COLUMN paired_difference_squared_sum; ";

    /// <summary>Undoes step 13: sweeps, their trials and workers.</summary>
    public const string Step13 = "DROP TABLE trials; DROP TABLE sweeps; DROP TABLE workers; ";

    /// <summary>Undoes step 12: dataset versions and connections.</summary>
    public const string Step12 = "DROP TABLE dataset_versions; DROP TABLE dataset_connections; ";

    /// <summary>Undoes step 11: blobs linked to the repository they were uploaded into.</summary>
    public const string Step11 = "DROP TABLE registry_blobs; ";

    /// <summary>Undoes step 10: digests named for what they hash.</summary>
    public const string Step10 =
        "ALTER TABLE models RENAME COLUMN onnx_digest TO model_digest; ALTER TABLE models RENAME COLUMN onnx_size TO model_size; " +
        "ALTER TABLE telemetry RENAME COLUMN manifest_digest TO model_digest; ALTER TABLE telemetry_perf RENAME COLUMN manifest_digest TO model_digest; " +
        "ALTER TABLE telemetry_quality RENAME COLUMN manifest_digest TO model_digest; ";

    /// <summary>Undoes step 9: perf and quality telemetry and the health report's later columns.</summary>
    public const string Step9 =
        "DROP TABLE telemetry_perf; DROP TABLE telemetry_quality; DROP TABLE telemetry_perf_minutes; DROP TABLE telemetry_quality_minutes; DROP INDEX telemetry_by_received; " +
        "ALTER TABLE telemetry DROP COLUMN disk_free_bytes; ALTER TABLE telemetry DROP COLUMN disk_total_bytes; ALTER TABLE telemetry DROP COLUMN agent_version; " +
        "ALTER TABLE telemetry DROP COLUMN attestation_state; ALTER TABLE telemetry DROP COLUMN heartbeat_seconds; ALTER TABLE telemetry DROP COLUMN events_dropped; " +
        "ALTER TABLE telemetry DROP COLUMN feedback_unmatched; ALTER TABLE telemetry DROP COLUMN feedback_malformed; ";

    /// <summary>Undoes step 8: rollout devices in rows of their own, model aliases, the desired version column.</summary>
    public const string Step8 = "DROP TABLE rollout_devices; DROP TABLE model_aliases; ALTER TABLE devices DROP COLUMN desired_version; ";

    /// <summary>Back to step 7, the first with rollouts.</summary>
    public const string ToStep7 = Step17 + Step16 + Step15 + Step14 + Step13 + Step12 + Step11 + Step10 + Step9 + Step8 + "PRAGMA user_version = 7; ";

    /// <summary>Back to step 13, before quality telemetry carried what experiments analyse.</summary>
    public const string ToStep13 = Step17 + Step16 + Step15 + Step14 + "PRAGMA user_version = 13; ";

    /// <summary>Back to step 14, before experiments.</summary>
    public const string ToStep14 = Step17 + Step16 + Step15 + "PRAGMA user_version = 14; ";

    /// <summary>Back to step 9, where every digest column was model_digest.</summary>
    public const string ToStep9 = Step17 + Step16 + Step15 + Step14 + Step13 + Step12 + Step11 + Step10 + "PRAGMA user_version = 9; ";
}
