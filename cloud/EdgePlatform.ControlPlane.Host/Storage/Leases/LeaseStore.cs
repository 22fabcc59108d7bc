using System.Data.Common;
using Dapper;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Data.Sqlite;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Leases;

/// <summary>
/// Named leases in the <c>leases</c> table. Taking, renewing and releasing are each one
/// statement guarded by holder, expiry and epoch, so replicas racing for a lease never both win
/// it; the epoch grows only when the lease changes hands, which makes it a fencing token.
/// </summary>
public abstract class LeaseStore(StoreDatabase database, TimeProvider timeProvider) : ILeaseStore
{
    protected StoreDatabase Database { get; } = database ?? throw new ArgumentNullException(nameof(database));

    /// <summary>The lease adapter for <paramref name="database"/>'s provider, judging expiry on <paramref name="timeProvider"/>.</summary>
    public static LeaseStore Open(StoreDatabase database, TimeProvider timeProvider) => database switch
    {
        SqliteDatabase => new SqliteLeaseStore(database, timeProvider),
        PostgresDatabase => new PostgresLeaseStore(database, timeProvider),
        _ => throw new ArgumentException($"no lease store for {database?.Provider}", nameof(database)),
    };

    public async Task<Lease?> TryAcquireAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(holder);
        var now = timeProvider.GetUtcNow();
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);

        // One upsert: a free or expired lease changes hands with the next epoch, the holder's own
        // lease is extended under the same epoch, and anyone else's running lease is left alone
        // (no row comes back). The row lock the upsert takes makes racing replicas serialize.
        var row = await connection.QuerySingleOrDefaultAsync<LeaseRow>(new CommandDefinition(
            """
            INSERT INTO leases (name, holder, epoch, expires_ms, acquired_at) VALUES (@name, @holder, 1, @expires, @acquiredAt)
            ON CONFLICT (name) DO UPDATE SET
                epoch = CASE WHEN leases.holder = excluded.holder THEN leases.epoch ELSE leases.epoch + 1 END,
                acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END,
                holder = excluded.holder,
                expires_ms = excluded.expires_ms
            WHERE leases.holder = excluded.holder OR leases.expires_ms <= @now
            RETURNING name, holder, epoch, expires_ms
            """,
            new { name, holder, expires = (now + duration).ToUnixTimeMilliseconds(), acquiredAt = Time(now), now = now.ToUnixTimeMilliseconds() },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToLease();
    }

    public async Task ReleaseAsync(Lease lease, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(lease);
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);

        // Expired rather than deleted: the epoch must keep growing, or a fenced write from an
        // older holder could match a recreated lease's epoch.
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE leases SET expires_ms = 0 WHERE name = @Name AND holder = @Holder AND epoch = @Epoch",
            new { lease.Name, lease.Holder, lease.Epoch },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<Lease?> GetAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<LeaseRow>(new CommandDefinition(
            "SELECT name, holder, epoch, expires_ms FROM leases WHERE name = @name", new { name }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToLease();
    }

    /// <summary>
    /// Begins the transaction a write under <paramref name="fence"/> runs in and checks the fence
    /// in it, holding the lease row so it cannot change hands before the write commits; null, and
    /// nothing begun, when the lease has moved on. Without a fence, a plain transaction.
    /// </summary>
    internal static async Task<DbTransaction?> BeginFencedAsync(DbConnection connection, LeaseFence? fence, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (fence is null)
        {
            return await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        }

        // SQLite has no row locks: the write lock is taken up front (BEGIN IMMEDIATE), so the
        // lease cannot be taken between the check and the write. PostgreSQL holds the lease row
        // FOR SHARE, so a replica taking it over waits until this write commits.
        var sqlite = connection as SqliteConnection;
        var transaction = sqlite is not null
            ? sqlite.BeginTransaction(deferred: false)
            : await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var held = await connection.QuerySingleOrDefaultAsync<long?>(new CommandDefinition(
            "SELECT epoch FROM leases WHERE name = @Name AND epoch = @Epoch" + (sqlite is not null ? string.Empty : " FOR SHARE"),
            new { fence.Name, fence.Epoch },
            transaction,
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (held is not null)
        {
            return transaction;
        }

        await transaction.DisposeAsync().ConfigureAwait(false);
        return null;
    }

#pragma warning disable CA1812 // Instantiated by Dapper.
    private sealed class LeaseRow
    {
        public string Name { get; set; } = "";
        public string Holder { get; set; } = "";
        public long Epoch { get; set; }
        public long ExpiresMs { get; set; }

        public Lease ToLease() => new(Name, Holder, Epoch, DateTimeOffset.FromUnixTimeMilliseconds(ExpiresMs));
    }
#pragma warning restore CA1812
}
