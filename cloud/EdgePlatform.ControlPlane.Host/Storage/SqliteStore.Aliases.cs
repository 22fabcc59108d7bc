using Dapper;
using EdgePlatform.Contracts;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>Model aliases: a name per model pointing at one of its versions.</summary>
public sealed partial class SqliteStore
{
    public async Task SetAliasAsync(ModelAlias modelAlias, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(modelAlias);
        await using var connection = Open();
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
        await using var connection = Open();
        var row = await connection.QuerySingleOrDefaultAsync<AliasRow>(new CommandDefinition(
            "SELECT * FROM model_aliases WHERE name = @name AND alias = @aliasName", new { name, aliasName }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToAlias();
    }

    public async Task<IReadOnlyList<ModelAlias>> ListAliasesAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var rows = await connection.QueryAsync<AliasRow>(new CommandDefinition(
            "SELECT * FROM model_aliases WHERE name = @name ORDER BY alias", new { name }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToAlias())];
    }

#pragma warning disable CA1812 // Instantiated by Dapper.
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
