using System.Data.Common;
using Dapper;

namespace EdgePlatform.ControlPlane.Host.Storage.Datasets;

/// <summary>Dataset versions and connections on PostgreSQL.</summary>
public sealed class PostgresDatasetStore(PostgresDatabase database) : DatasetStore(database)
{
    // The first key names what is locked, so that these locks never meet another use of advisory
    // locks; the second is the dataset's name, so that registrations of other names do not wait.
    private const int NumberingLockClass = 0x4456_4e31;

    // Under READ COMMITTED two inserts would both read the same MAX(version); the lock is held to
    // the end of the transaction, past the insert's commit.
    protected override Task SerializeNumberingAsync(DbConnection connection, DbTransaction transaction, string name, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_xact_lock(@lockClass, hashtext(@name))",
            new { lockClass = NumberingLockClass, name },
            transaction,
            cancellationToken: cancellationToken));
}
