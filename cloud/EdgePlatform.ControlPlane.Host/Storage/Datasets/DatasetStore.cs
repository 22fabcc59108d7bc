using System.Data.Common;
using Dapper;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Datasets;

/// <summary>Numbered dataset versions and dataset connections (tables <c>dataset_versions</c> and <c>dataset_connections</c>).</summary>
public abstract class DatasetStore(StoreDatabase database) : IDatasetStore
{
    public async Task<DatasetVersionInfo> AddDatasetVersionAsync(DatasetVersionInfo version, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(version);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await SerializeNumberingAsync(connection, transaction, version.Name, cancellationToken).ConfigureAwait(false);

        // Numbered inside the insert, so the number read is the number stored.
        var number = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            """
            INSERT INTO dataset_versions (name, version, snapshot_digest, size_bytes, source_kind, source_description, format, columns, rows, label, created_by, created_at, parent_version, rules)
            SELECT @Name, COALESCE(MAX(version), 0) + 1, @SnapshotDigest, @SizeBytes, @SourceKind, @SourceDescription, @Format, @Columns, @Rows, @Label, @CreatedBy, @CreatedAt, @ParentVersion, @Rules
            FROM dataset_versions WHERE name = @Name
            RETURNING version
            """,
            new
            {
                version.Name,
                version.SnapshotDigest,
                version.SizeBytes,
                SourceKind = version.Source.Kind,
                SourceDescription = version.Source.Description,
                version.Format,
                Columns = Json(version.Columns.ToList(), ContractsJsonContext.Default.ListDatasetColumnInfo),
                version.Rows,
                version.Label,
                version.CreatedBy,
                CreatedAt = Time(version.CreatedAt),
                ParentVersion = (long?)version.ParentVersion,
                Rules = version.Rules is null ? null : Json(version.Rules, ContractsJsonContext.Default.CleansingRules),
            },
            transaction,
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return version with { Version = (int)number };
    }

    public async Task<DatasetVersionInfo?> GetDatasetVersionAsync(string name, int? version, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<DatasetVersionRow>(new CommandDefinition(
            version is null
                ? "SELECT * FROM dataset_versions WHERE name = @name ORDER BY version DESC LIMIT 1"
                : "SELECT * FROM dataset_versions WHERE name = @name AND version = @version",
            new { name, version = (long?)version },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToInfo();
    }

    public async Task<IReadOnlyList<DatasetVersionInfo>> ListDatasetVersionsAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<DatasetVersionRow>(new CommandDefinition(
            "SELECT * FROM dataset_versions WHERE name = @name ORDER BY version", new { name }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToInfo())];
    }

    public async Task<IReadOnlyList<DatasetSummary>> ListDatasetSummariesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var counts = (await connection.QueryAsync<(string Name, long Versions)>(new CommandDefinition(
            "SELECT name, COUNT(*) FROM dataset_versions GROUP BY name", cancellationToken: cancellationToken)).ConfigureAwait(false))
            .ToDictionary(c => c.Name, c => (int)c.Versions, StringComparer.Ordinal);
        var latest = await connection.QueryAsync<DatasetVersionRow>(new CommandDefinition(
            """
            SELECT v.* FROM dataset_versions v
            JOIN (SELECT name, MAX(version) AS version FROM dataset_versions GROUP BY name) m ON m.name = v.name AND m.version = v.version
            ORDER BY v.name
            """,
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. latest.Select(r => new DatasetSummary(r.Name, counts[r.Name], r.ToInfo()))];
    }

    public async Task<bool> AddDatasetConnectionAsync(DatasetConnectionRecord connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using var db = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var added = await db.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO dataset_connections (name, kind, host, sealed_connection_string, created_at) VALUES (@Name, @Kind, @Host, @SealedConnectionString, @CreatedAt)
            ON CONFLICT (name) DO NOTHING
            """,
            new { connection.Name, connection.Kind, connection.Host, connection.SealedConnectionString, CreatedAt = Time(connection.CreatedAt) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return added == 1;
    }

    public async Task<DatasetConnectionRecord?> GetDatasetConnectionAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<DatasetConnectionRow>(new CommandDefinition(
            "SELECT * FROM dataset_connections WHERE name = @name", new { name }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<DatasetConnectionRecord>> ListDatasetConnectionsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<DatasetConnectionRow>(new CommandDefinition(
            "SELECT * FROM dataset_connections ORDER BY name", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToRecord())];
    }

    /// <summary>
    /// Makes a concurrent registration of the same name wait for this transaction, so that the
    /// next number is read after the other one's insert and both get a number of their own.
    /// </summary>
    protected abstract Task SerializeNumberingAsync(DbConnection connection, DbTransaction transaction, string name, CancellationToken cancellationToken);

#pragma warning disable CA1812 // Instantiated by Dapper.
    private sealed class DatasetVersionRow
    {
        public string Name { get; set; } = "";
        public long Version { get; set; }
        public string SnapshotDigest { get; set; } = "";
        public long SizeBytes { get; set; }
        public string SourceKind { get; set; } = "";
        public string SourceDescription { get; set; } = "";
        public string Format { get; set; } = "";
        public string Columns { get; set; } = "[]";
        public long Rows { get; set; }
        public string? Label { get; set; }
        public string CreatedBy { get; set; } = "";
        public string CreatedAt { get; set; } = "";
        public long? ParentVersion { get; set; }
        public string? Rules { get; set; }

        public DatasetVersionInfo ToInfo() => new(
            Name,
            (int)Version,
            SnapshotDigest,
            SizeBytes,
            new DatasetSourceInfo(SourceKind, SourceDescription),
            Format,
            FromJson(Columns, ContractsJsonContext.Default.ListDatasetColumnInfo),
            Rows,
            Label,
            CreatedBy,
            ParseTime(CreatedAt),
            ParentVersion is { } parent ? (int)parent : null,
            Rules is null ? null : FromJson(Rules, ContractsJsonContext.Default.CleansingRules));
    }

    private sealed class DatasetConnectionRow
    {
        public string Name { get; set; } = "";
        public string Kind { get; set; } = "";
        public string Host { get; set; } = "";
        public byte[] SealedConnectionString { get; set; } = [];
        public string CreatedAt { get; set; } = "";

        public DatasetConnectionRecord ToRecord() => new(Name, Kind, Host, SealedConnectionString, ParseTime(CreatedAt));
    }
#pragma warning restore CA1812
}
