using Dapper;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Registry;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Data.Sqlite;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>
/// The default store: one SQLite file in the data directory, WAL mode, migrated on open.
/// Nested documents (tags, twins, metrics) are kept as JSON columns.
/// </summary>
public sealed partial class SqliteStore : EdgePlatform.ControlPlane.Access.IAccessStore, IEnrollmentGroupStore, IDeviceStore, IModelStore, IDeploymentStore, ITrainingStore
{
    private readonly SqliteDatabase _database;

    public SqliteStore(string databasePath)
        : this(new SqliteDatabase(databasePath))
    {
    }

    public SqliteStore(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    public async Task<DeviceRecord?> GetDeviceAsync(string deviceId, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var row = await connection.QuerySingleOrDefaultAsync<DeviceRow>(
            new CommandDefinition("SELECT * FROM devices WHERE id = @deviceId", new { deviceId }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<IReadOnlySet<string>> FindEnrolledAsync(IReadOnlyCollection<string> deviceIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deviceIds);
        if (deviceIds.Count == 0)
        {
            return new HashSet<string>(StringComparer.Ordinal);
        }

        await using var connection = Open();
        var found = new HashSet<string>(StringComparer.Ordinal);

        // SQLite takes at most 32,766 parameters in one statement.
        foreach (var chunk in deviceIds.Chunk(10_000))
        {
            found.UnionWith(await connection.QueryAsync<string>(new CommandDefinition(
                "SELECT id FROM devices WHERE id IN @chunk", new { chunk }, cancellationToken: cancellationToken)).ConfigureAwait(false));
        }

        return found;
    }

    public async Task<IReadOnlyList<DeviceRecord>> ListDevicesAsync(CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var rows = await connection.QueryAsync<DeviceRow>(
            new CommandDefinition("SELECT * FROM devices ORDER BY id", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToRecord())];
    }

    public async Task UpsertDeviceAsync(DeviceRecord device, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO devices (id, tags, certificate_thumbprint, certificate, enrolled_at, status, last_seen, desired, desired_version, reported, attestation)
            VALUES (@Id, @Tags, @CertificateThumbprint, @Certificate, @EnrolledAt, @Status, @LastSeen, @Desired, @DesiredVersion, @Reported, @Attestation)
            ON CONFLICT (id) DO UPDATE SET tags = excluded.tags, certificate_thumbprint = excluded.certificate_thumbprint, certificate = excluded.certificate
            """,
            new
            {
                device.Id,
                Tags = Json(device.Tags.ToDictionary(StringComparer.Ordinal), ContractsJsonContext.Default.DictionaryStringString),
                device.CertificateThumbprint,
                device.Certificate,
                EnrolledAt = Time(device.EnrolledAt),
                device.Status,
                LastSeen = device.LastSeen is { } seen ? Time(seen) : null,
                Desired = device.Desired is null ? null : Json(device.Desired, ContractsJsonContext.Default.DesiredState),
                DesiredVersion = device.Desired?.Version ?? 0,
                Reported = device.Reported is null ? null : Json(device.Reported, ContractsJsonContext.Default.ReportedState),
                Attestation = device.Attestation is null ? null : Json(device.Attestation, ContractsJsonContext.Default.AttestationStatus),
            },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<bool> SaveDesiredAsync(string deviceId, DesiredState desired, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(desired);
        return (await SaveDesiredManyAsync([new DesiredUpdate(deviceId, desired, expectedVersion)], cancellationToken).ConfigureAwait(false)).Count == 1;
    }

    public async Task<IReadOnlySet<string>> SaveDesiredManyAsync(IReadOnlyList<DesiredUpdate> updates, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(updates);
        var landed = new HashSet<string>(StringComparer.Ordinal);
        if (updates.Count == 0)
        {
            return landed;
        }

        // One transaction, one commit: a stage opening for thousands of devices pays for one fsync,
        // not one per device; each row is still its own compare-and-set, one statement, so replicas
        // sharing the database cannot both win.
        await using var connection = Open();
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        foreach (var update in updates)
        {
            var changed = await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE devices SET desired = @desired, desired_version = @version WHERE id = @deviceId AND desired_version = @expectedVersion",
                new
                {
                    deviceId = update.DeviceId,
                    desired = Json(update.Desired, ContractsJsonContext.Default.DesiredState),
                    version = update.Desired.Version,
                    expectedVersion = update.ExpectedVersion,
                },
                transaction,
                cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (changed == 1)
            {
                landed.Add(update.DeviceId);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return landed;
    }

    public async Task<IReadOnlyDictionary<string, DesiredState>> GetDesiredManyAsync(IReadOnlyCollection<string> deviceIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deviceIds);
        var found = new Dictionary<string, DesiredState>(StringComparer.Ordinal);
        if (deviceIds.Count == 0)
        {
            return found;
        }

        await using var connection = Open();
        var rows = await connection.QueryAsync<(string Id, string Desired)>(new CommandDefinition(
            "SELECT id, desired FROM devices WHERE desired IS NOT NULL AND id IN (SELECT value FROM json_each(@deviceIds))",
            new { deviceIds = Json(deviceIds.ToList(), ContractsJsonContext.Default.ListString) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        foreach (var (id, desired) in rows)
        {
            found[id] = FromJson(desired, ContractsJsonContext.Default.DesiredState);
        }

        return found;
    }

    public async Task SaveReportedAsync(string deviceId, ReportedState reported, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE devices SET reported = @reported, last_seen = @seen WHERE id = @deviceId",
            new { deviceId, reported = Json(reported, ContractsJsonContext.Default.ReportedState), seen = Time(receivedAt) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task SaveStatusAsync(string deviceId, string status, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE devices SET status = @status, last_seen = @seen WHERE id = @deviceId",
            new { deviceId, status, seen = Time(at) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task SaveAttestationAsync(string deviceId, AttestationStatus attestation, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE devices SET attestation = @attestation WHERE id = @deviceId",
            new { deviceId, attestation = Json(attestation, ContractsJsonContext.Default.AttestationStatus) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<bool> AddModelAsync(ModelRecord model, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var inserted = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT OR IGNORE INTO models (name, version, repository, manifest_digest, manifest_size, onnx_digest, onnx_size, signature, metrics, created_at)
            VALUES (@Name, @Version, @Repository, @ManifestDigest, @ManifestSize, @OnnxDigest, @OnnxSize, @Signature, @Metrics, @CreatedAt)
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
        await using var connection = Open();
        var sql = version is null
            ? "SELECT * FROM models WHERE name = @name ORDER BY created_at DESC, rowid DESC LIMIT 1"
            : "SELECT * FROM models WHERE name = @name AND version = @version";
        var row = await connection.QuerySingleOrDefaultAsync<ModelRow>(
            new CommandDefinition(sql, new { name, version }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<ModelRecord?> FindModelByDigestAsync(string repository, string manifestDigest, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var row = await connection.QueryFirstOrDefaultAsync<ModelRow>(new CommandDefinition(
            "SELECT * FROM models WHERE repository = @repository AND manifest_digest = @manifestDigest",
            new { repository, manifestDigest },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<ModelRecord>> ListModelsAsync(CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var rows = await connection.QueryAsync<ModelRow>(
            new CommandDefinition("SELECT * FROM models ORDER BY name, created_at", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToRecord())];
    }

    public async Task UpdateModelSignatureAsync(string name, string version, string signature, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE models SET signature = @signature WHERE name = @name AND version = @version",
            new { name, version, signature },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task AddDeploymentAsync(DeploymentInfo deployment, CancellationToken cancellationToken)
    {
        await using var connection = Open();
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
        await using var connection = Open();
        var rows = await connection.QueryAsync<DeploymentRow>(
            new CommandDefinition("SELECT * FROM deployments ORDER BY created_at", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToInfo())];
    }

    public async Task AddDatasetAsync(DatasetInfo dataset, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO datasets (name, digest, rows, columns, label, created_at) VALUES (@Name, @Digest, @Rows, @Columns, @Label, @CreatedAt)",
            new
            {
                dataset.Name,
                dataset.Digest,
                dataset.Rows,
                Columns = Json(dataset.Columns.ToList(), ContractsJsonContext.Default.ListString),
                dataset.Label,
                CreatedAt = Time(dataset.CreatedAt),
            },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<DatasetInfo?> GetDatasetAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var row = await connection.QuerySingleOrDefaultAsync<DatasetRow>(
            new CommandDefinition("SELECT * FROM datasets WHERE name = @name", new { name }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToInfo();
    }

    public async Task<IReadOnlyList<DatasetInfo>> ListDatasetsAsync(CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var rows = await connection.QueryAsync<DatasetRow>(
            new CommandDefinition("SELECT * FROM datasets ORDER BY name", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToInfo())];
    }

    public async Task SaveTrainingRunAsync(TrainingRunInfo run, CancellationToken cancellationToken)
    {
        await using var connection = Open();
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
        await using var connection = Open();
        var document = await connection.QuerySingleOrDefaultAsync<string>(
            new CommandDefinition("SELECT document FROM training_runs WHERE id = @id", new { id }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return document is null ? null : FromJson(document, ContractsJsonContext.Default.TrainingRunInfo);
    }

    public async Task<IReadOnlyList<TrainingRunInfo>> ListTrainingRunsAsync(CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var documents = await connection.QueryAsync<string>(
            new CommandDefinition("SELECT document FROM training_runs ORDER BY created_at", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. documents.Select(d => FromJson(d, ContractsJsonContext.Default.TrainingRunInfo))];
    }

    public async Task SaveRegistryManifestAsync(RegistryManifest manifest, string? tag, DateTimeOffset pushedAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        await using var connection = Open();
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var at = Time(pushedAt);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT OR IGNORE INTO registry_manifests (repository, digest, media_type, size, pushed_at)
            VALUES (@Repository, @Digest, @MediaType, @Size, @at)
            """,
            new { manifest.Repository, manifest.Digest, manifest.MediaType, manifest.Size, at },
            transaction,
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (tag is not null)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO registry_tags (repository, tag, digest, updated_at) VALUES (@Repository, @tag, @Digest, @at)
                ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at
                """,
                new { manifest.Repository, tag, manifest.Digest, at },
                transaction,
                cancellationToken: cancellationToken)).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<RegistryManifest?> FindRegistryManifestByDigestAsync(string repository, string digest, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var row = await connection.QuerySingleOrDefaultAsync<RegistryManifestRow>(new CommandDefinition(
            "SELECT repository, digest, media_type, size FROM registry_manifests WHERE repository = @repository AND digest = @digest",
            new { repository, digest },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<RegistryManifest?> FindRegistryManifestByTagAsync(string repository, string tag, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var row = await connection.QuerySingleOrDefaultAsync<RegistryManifestRow>(new CommandDefinition(
            """
            SELECT m.repository, m.digest, m.media_type, m.size
            FROM registry_tags t JOIN registry_manifests m ON m.repository = t.repository AND m.digest = t.digest
            WHERE t.repository = @repository AND t.tag = @tag
            """,
            new { repository, tag },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<string>> ListRegistryTagsAsync(string repository, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var tags = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT tag FROM registry_tags WHERE repository = @repository ORDER BY tag",
            new { repository },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. tags];
    }

    public async Task LinkRegistryBlobAsync(string repository, string digest, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT OR IGNORE INTO registry_blobs (repository, digest) VALUES (@repository, @digest)",
            new { repository, digest },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<bool> IsRegistryBlobLinkedAsync(string repository, string digest, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM registry_blobs WHERE repository = @repository AND digest = @digest",
            new { repository, digest },
            cancellationToken: cancellationToken)).ConfigureAwait(false) > 0;
    }

    public async Task<IReadOnlyList<string>> ListRegistryManifestDigestsAsync(string repository, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var digests = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT digest FROM registry_manifests WHERE repository = @repository",
            new { repository },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. digests];
    }

    public async Task AddTokenAsync(EdgePlatform.ControlPlane.Access.ApiTokenRecord token, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO api_tokens (id, name, role, hash, created_by, created_at) VALUES (@Id, @Name, @Role, @Hash, @CreatedBy, @CreatedAt)",
            new { token.Id, token.Name, token.Role, token.Hash, token.CreatedBy, CreatedAt = Time(token.CreatedAt) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<EdgePlatform.ControlPlane.Access.ApiTokenRecord?> FindTokenAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var row = await connection.QuerySingleOrDefaultAsync<TokenRow>(
            new CommandDefinition("SELECT * FROM api_tokens WHERE id = @id", new { id }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<EdgePlatform.ControlPlane.Access.ApiTokenRecord>> ListTokensAsync(CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var rows = await connection.QueryAsync<TokenRow>(
            new CommandDefinition("SELECT * FROM api_tokens ORDER BY created_at", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToRecord())];
    }

    public async Task<bool> RevokeTokenAsync(string id, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var changed = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, @at) WHERE id = @id",
            new { id, at = Time(at) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return changed == 1;
    }

    public async Task AppendAuditAsync(DateTimeOffset at, string actor, string action, int status, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO audit_log (at, actor, action, status) VALUES (@at, @actor, @action, @status)",
            new { at = Time(at), actor, action, status },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<AuditEntry>> ListAuditAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var rows = await connection.QueryAsync<AuditRow>(new CommandDefinition(
            "SELECT * FROM audit_log ORDER BY sequence DESC LIMIT @limit", new { limit }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => new AuditEntry(r.Sequence, ParseTime(r.At), r.Actor, r.Action, (int)r.Status))];
    }

    public async Task AddGroupAsync(EnrollmentGroupRecord group, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO enrollment_groups (id, name, key, created_at) VALUES (@Id, @Name, @Key, @CreatedAt)",
            new { group.Id, group.Name, group.Key, CreatedAt = Time(group.CreatedAt) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<EnrollmentGroupRecord>> ListGroupsAsync(CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var rows = await connection.QueryAsync<GroupRow>(
            new CommandDefinition("SELECT * FROM enrollment_groups ORDER BY created_at", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => new EnrollmentGroupRecord(r.Id, r.Name, r.Key, ParseTime(r.CreatedAt), r.RevokedAt is null ? null : ParseTime(r.RevokedAt)))];
    }

    public async Task<bool> RevokeGroupAsync(string id, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        return await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE enrollment_groups SET revoked_at = COALESCE(revoked_at, @at) WHERE id = @id",
            new { id, at = Time(at) },
            cancellationToken: cancellationToken)).ConfigureAwait(false) == 1;
    }

    private SqliteConnection Open() => _database.Open();

    // Dapper materializes rows into these; snake_case columns match PascalCase properties (MatchNamesWithUnderscores).
#pragma warning disable CA1812 // Instantiated by Dapper.
    private sealed class DeviceRow
    {
        public string Id { get; set; } = "";
        public string Tags { get; set; } = "{}";
        public string CertificateThumbprint { get; set; } = "";
        public string? Certificate { get; set; }
        public string? Attestation { get; set; }
        public string EnrolledAt { get; set; } = "";
        public string Status { get; set; } = "";
        public string? LastSeen { get; set; }
        public string? Desired { get; set; }
        public string? Reported { get; set; }

        public DeviceRecord ToRecord() => new(
            Id,
            FromJson(Tags, ContractsJsonContext.Default.DictionaryStringString),
            CertificateThumbprint,
            ParseTime(EnrolledAt),
            Status,
            LastSeen is null ? null : ParseTime(LastSeen),
            Desired is null ? null : FromJson(Desired, ContractsJsonContext.Default.DesiredState),
            Reported is null ? null : FromJson(Reported, ContractsJsonContext.Default.ReportedState),
            Certificate,
            Attestation is null ? null : FromJson(Attestation, ContractsJsonContext.Default.AttestationStatus));
    }

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

    private sealed class RegistryManifestRow
    {
        public string Repository { get; set; } = "";
        public string Digest { get; set; } = "";
        public string MediaType { get; set; } = "";
        public long Size { get; set; }

        public RegistryManifest ToRecord() => new(Repository, Digest, MediaType, Size);
    }
    private sealed class TokenRow
    {
        public string Id { get; set; } = "";
        public string Name { get; set; } = "";
        public string Role { get; set; } = "";
        public string Hash { get; set; } = "";
        public string CreatedBy { get; set; } = "";
        public string CreatedAt { get; set; } = "";
        public string? RevokedAt { get; set; }

        public EdgePlatform.ControlPlane.Access.ApiTokenRecord ToRecord() =>
            new(Id, Name, Role, Hash, CreatedBy, ParseTime(CreatedAt), RevokedAt is null ? null : ParseTime(RevokedAt));
    }

    private sealed class GroupRow
    {
        public string Id { get; set; } = "";
        public string Name { get; set; } = "";
        public string Key { get; set; } = "";
        public string CreatedAt { get; set; } = "";
        public string? RevokedAt { get; set; }
    }

    private sealed class AuditRow
    {
        public long Sequence { get; set; }
        public string At { get; set; } = "";
        public string Actor { get; set; } = "";
        public string Action { get; set; } = "";
        public long Status { get; set; }
    }
#pragma warning restore CA1812
}
