namespace EdgePlatform.ControlPlane.Host.Storage.Leases;

/// <summary>Leases on SQLite: the shared upsert serializes on the database's write lock.</summary>
public sealed class SqliteLeaseStore(StoreDatabase database, TimeProvider timeProvider) : LeaseStore(database, timeProvider);
