using Dapper;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Models;

/// <summary>Registered model versions and their aliases (tables <c>models</c> and <c>model_aliases</c>).</summary>
public abstract class ModelStore(StoreDatabase database) : IModelStore
{
    /// <summary>
    /// The order that puts a name's newest version first: by registration time, and among
    /// versions registered at the same instant by what the database can tell of insertion order.
    /// </summary>
    protected abstract string NewestFirst { get; }

    public async Task<bool> AddModelAsync(ModelRecord model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var inserted = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO models (name, version, repository, manifest_digest, manifest_size, onnx_digest, onnx_size, signature, metrics, created_at)
            VALUES (@Name, @Version, @Repository, @ManifestDigest, @ManifestSize, @OnnxDigest, @OnnxSize, @Signature, @Metrics, @CreatedAt)
            ON CONFLICT (name, version) DO NOTHING
            """,
            new
            {
                model.Name,
                model.Version,
                model.Repository,
                model.ManifestDigest,
                model.ManifestSize,
                model.OnnxDigest,
                model.OnnxSize,
                model.Signature,
                Metrics = Json(model.Metrics.ToDictionary(StringComparer.Ordinal), ContractsJsonContext.Default.DictionaryStringDouble),
                CreatedAt = Time(model.CreatedAt),
            },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return inserted == 1;
    }

    public async Task<ModelRecord?> FindModelAsync(string name, string? version, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var sql = version is null
            ? $"SELECT * FROM models WHERE name = @name ORDER BY {NewestFirst} LIMIT 1"
            : "SELECT * FROM models WHERE name = @name AND version = @version";
        var row = await connection.QuerySingleOrDefaultAsync<ModelRow>(
            new CommandDefinition(sql, new { name, version }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<ModelRecord?> FindModelByDigestAsync(string repository, string manifestDigest, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QueryFirstOrDefaultAsync<ModelRow>(new CommandDefinition(
            "SELECT * FROM models WHERE repository = @repository AND manifest_digest = @manifestDigest",
            new { repository, manifestDigest },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<ModelRecord>> ListModelsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<ModelRow>(
            new CommandDefinition("SELECT * FROM models ORDER BY name, created_at, version", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToRecord())];
    }

    public async Task UpdateModelSignatureAsync(string name, string version, string signature, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE models SET signature = @signature WHERE name = @name AND version = @version",
            new { name, version, signature },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task SetAliasAsync(ModelAlias modelAlias, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(modelAlias);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO model_aliases (name, alias, version, updated_at, updated_by) VALUES (@Name, @Alias, @Version, @UpdatedAt, @UpdatedBy)
            ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at, updated_by = excluded.updated_by
            """,
            new { modelAlias.Name, modelAlias.Alias, modelAlias.Version, UpdatedAt = Time(modelAlias.UpdatedAt), modelAlias.UpdatedBy },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<ModelAlias?> FindAliasAsync(string name, string aliasName, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<AliasRow>(new CommandDefinition(
            "SELECT * FROM model_aliases WHERE name = @name AND alias = @aliasName", new { name, aliasName }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToAlias();
    }

    public async Task<IReadOnlyList<ModelAlias>> ListAliasesAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<AliasRow>(new CommandDefinition(
            "SELECT * FROM model_aliases WHERE name = @name ORDER BY alias", new { name }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToAlias())];
    }

#pragma warning disable CA1812 // Instantiated by Dapper.
    private sealed class ModelRow
    {
        public string Name { get; set; } = "";
        public string Version { get; set; } = "";
        public string Repository { get; set; } = "";
        public string ManifestDigest { get; set; } = "";
        public long ManifestSize { get; set; }
        public string OnnxDigest { get; set; } = "";
        public long OnnxSize { get; set; }
        public string Signature { get; set; } = "";
        public string Metrics { get; set; } = "{}";
        public string CreatedAt { get; set; } = "";

        public ModelRecord ToRecord() => new(
            Repository, Name, Version, ManifestDigest, ManifestSize, OnnxDigest, OnnxSize, Signature,
            FromJson(Metrics, ContractsJsonContext.Default.DictionaryStringDouble), ParseTime(CreatedAt));
    }

    private sealed class AliasRow
    {
        public string Name { get; set; } = "";
        public string Alias { get; set; } = "";
        public string Version { get; set; } = "";
        public string UpdatedAt { get; set; } = "";
        public string UpdatedBy { get; set; } = "";

        public ModelAlias ToAlias() => new(Name, Alias, Version, ParseTime(UpdatedAt), UpdatedBy);
    }
#pragma warning restore CA1812
}
