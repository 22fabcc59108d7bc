using Dapper;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Deployments;

/// <summary>Deployments made and the devices each one targeted (table <c>deployments</c>).</summary>
public abstract class DeploymentStore(StoreDatabase database) : IDeploymentStore
{
    public async Task AddDeploymentAsync(DeploymentInfo deployment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO deployments (id, model_name, model_version, manifest_digest, devices, created_at)
            VALUES (@Id, @ModelName, @ModelVersion, @ManifestDigest, @Devices, @CreatedAt)
            """,
            new
            {
                deployment.Id,
                deployment.ModelName,
                deployment.ModelVersion,
                deployment.ManifestDigest,
                Devices = Json(deployment.Devices.ToList(), ContractsJsonContext.Default.ListString),
                CreatedAt = Time(deployment.CreatedAt),
            },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<DeploymentInfo>> ListDeploymentsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<DeploymentRow>(
            new CommandDefinition("SELECT * FROM deployments ORDER BY created_at, id", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToInfo())];
    }

#pragma warning disable CA1812 // Instantiated by Dapper.
    private sealed class DeploymentRow
    {
        public string Id { get; set; } = "";
        public string ModelName { get; set; } = "";
        public string ModelVersion { get; set; } = "";
        public string ManifestDigest { get; set; } = "";
        public string Devices { get; set; } = "[]";
        public string CreatedAt { get; set; } = "";

        public DeploymentInfo ToInfo() => new(
            Id, ModelName, ModelVersion, ManifestDigest, FromJson(Devices, ContractsJsonContext.Default.ListString), ParseTime(CreatedAt));
    }
#pragma warning restore CA1812
}
