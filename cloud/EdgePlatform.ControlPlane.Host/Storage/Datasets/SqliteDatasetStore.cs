using System.Data.Common;

namespace EdgePlatform.ControlPlane.Host.Storage.Datasets;

/// <summary>Dataset versions and connections in the SQLite file.</summary>
public sealed class SqliteDatasetStore(SqliteDatabase database) : DatasetStore(database)
{
    // The transaction began IMMEDIATE: it holds the file's one write lock already.
    protected override Task SerializeNumberingAsync(DbConnection connection, DbTransaction transaction, string name, CancellationToken cancellationToken) =>
        Task.CompletedTask;
}
