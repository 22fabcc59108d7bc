using Dapper;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Training;

/// <summary>Training datasets and training runs (tables <c>datasets</c> and <c>training_runs</c>).</summary>
public abstract class TrainingStore(StoreDatabase database) : ITrainingStore
{
    public async Task AddDatasetAsync(DatasetInfo dataset, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO datasets (name, digest, rows, columns, label, created_at) VALUES (@Name, @Digest, @Rows, @Columns, @Label, @CreatedAt)",
            new
            {
                dataset.Name,
                dataset.Digest,
                Rows = (long)dataset.Rows,
                Columns = Json(dataset.Columns.ToList(), ContractsJsonContext.Default.ListString),
                dataset.Label,
                CreatedAt = Time(dataset.CreatedAt),
            },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<DatasetInfo?> GetDatasetAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<DatasetRow>(
            new CommandDefinition("SELECT * FROM datasets WHERE name = @name", new { name }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToInfo();
    }

    public async Task<IReadOnlyList<DatasetInfo>> ListDatasetsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<DatasetRow>(
            new CommandDefinition("SELECT * FROM datasets ORDER BY name", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToInfo())];
    }

    public async Task SaveTrainingRunAsync(TrainingRunInfo run, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO training_runs (id, document, created_at) VALUES (@Id, @Document, @CreatedAt)
            ON CONFLICT (id) DO UPDATE SET document = excluded.document
            """,
            new { run.Id, Document = Json(run, ContractsJsonContext.Default.TrainingRunInfo), CreatedAt = Time(run.CreatedAt) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<TrainingRunInfo?> GetTrainingRunAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var document = await connection.QuerySingleOrDefaultAsync<string>(
            new CommandDefinition("SELECT document FROM training_runs WHERE id = @id", new { id }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return document is null ? null : FromJson(document, ContractsJsonContext.Default.TrainingRunInfo);
    }

    public async Task<IReadOnlyList<TrainingRunInfo>> ListTrainingRunsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var documents = await connection.QueryAsync<string>(
            new CommandDefinition("SELECT document FROM training_runs ORDER BY created_at, id", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. documents.Select(d => FromJson(d, ContractsJsonContext.Default.TrainingRunInfo))];
    }

#pragma warning disable CA1812 // Instantiated by Dapper.
    private sealed class DatasetRow
    {
        public string Name { get; set; } = "";
        public string Digest { get; set; } = "";
        public long Rows { get; set; }
        public string Columns { get; set; } = "[]";
        public string Label { get; set; } = "";
        public string CreatedAt { get; set; } = "";

        public DatasetInfo ToInfo() => new(
            Name, Digest, (int)Rows, FromJson(Columns, ContractsJsonContext.Default.ListString), Label, ParseTime(CreatedAt));
    }
#pragma warning restore CA1812
}
