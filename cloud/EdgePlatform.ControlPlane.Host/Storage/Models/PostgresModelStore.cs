namespace EdgePlatform.ControlPlane.Host.Storage.Models;

/// <summary>Models and aliases on PostgreSQL.</summary>
public sealed class PostgresModelStore(PostgresDatabase database) : ModelStore(database)
{
    // PostgreSQL rows have no insertion order to read back; registrations at one instant (to the
    // tenth of a microsecond) fall back on the version text, so the answer is at least stable.
    protected override string NewestFirst => "created_at DESC, version DESC";
}
