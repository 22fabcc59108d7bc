namespace EdgePlatform.ControlPlane.Host.Storage.Leases;

/// <summary>Leases on PostgreSQL: the shared upsert serializes racing replicas on the lease row's lock.</summary>
public sealed class PostgresLeaseStore(StoreDatabase database, TimeProvider timeProvider) : LeaseStore(database, timeProvider);
