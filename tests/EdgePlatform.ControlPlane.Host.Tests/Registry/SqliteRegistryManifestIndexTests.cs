using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Registry;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Host.Tests.Storage;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Tests.Registry;

public sealed class SqliteRegistryManifestIndexTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly RegistryManifest Manifest = new("tests/index", ContentDigest.Compute([1]), MediaTypes.OciManifest, 300);

    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task Open_DatabaseFromBeforeTheRegistryTables_AddsThemAndKeepsItsData()
    {
        var before = new SqliteStore(_database.Path);
        await before.UpsertDeviceAsync(
            new DeviceRecord("dev-1", new Dictionary<string, string>(), "hash", Now, DeviceStatuses.NeverConnected, null, null, null),
            CancellationToken.None);
        _database.Scalar(
            SchemaRewind.Step16 + SchemaRewind.Step15 + SchemaRewind.Step14 + SchemaRewind.Step13 + SchemaRewind.Step12 + SchemaRewind.Step11 + SchemaRewind.Step10 + SchemaRewind.Step9 + SchemaRewind.Step8 +
            "DROP TABLE registry_manifests; DROP TABLE registry_tags; DROP TABLE api_tokens; DROP TABLE audit_log; DROP TABLE enrollment_groups; DROP TABLE rollouts; " +
            "ALTER TABLE devices RENAME COLUMN certificate_thumbprint TO credential_hash; ALTER TABLE devices DROP COLUMN certificate; ALTER TABLE devices DROP COLUMN attestation; " +
            "DROP TABLE telemetry_minutes; DROP TABLE telemetry_rejections; DROP TABLE telemetry_watermarks; DROP INDEX telemetry_by_time; " +
            "ALTER TABLE telemetry DROP COLUMN latency_p95_ms; ALTER TABLE telemetry DROP COLUMN queue_depth; " +
            "ALTER TABLE telemetry DROP COLUMN queue_bytes; ALTER TABLE telemetry DROP COLUMN reports_shed; PRAGMA user_version = 1; SELECT 0;");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        var index = new SqliteRegistryManifestIndex(new SqliteStore(_database.Path));
        await index.SaveAsync(Manifest, "v1", Now, CancellationToken.None);

        Assert.Equal(SqliteMigrations.LatestVersion, _database.Scalar("PRAGMA user_version;"));
        Assert.Equal(1, _database.Scalar("SELECT COUNT(*) FROM devices"));
        Assert.Equal(Manifest, await index.FindByTagAsync("tests/index", "v1", CancellationToken.None));
    }

    [Fact]
    public async Task FindByTagAsync_TagOfAnotherRepository_ReturnsNull()
    {
        var index = new SqliteRegistryManifestIndex(new SqliteStore(_database.Path));
        await index.SaveAsync(Manifest, "v1", Now, CancellationToken.None);

        Assert.Null(await index.FindByTagAsync("tests/other", "v1", CancellationToken.None));
        Assert.Null(await index.FindByDigestAsync("tests/other", Manifest.Digest, CancellationToken.None));
        Assert.Empty(await index.ListTagsAsync("tests/other", CancellationToken.None));
    }

    [Fact]
    public async Task SaveAsync_WithoutTag_RecordsTheManifestUntagged()
    {
        var index = new SqliteRegistryManifestIndex(new SqliteStore(_database.Path));

        await index.SaveAsync(Manifest, tag: null, Now, CancellationToken.None);

        Assert.Equal(Manifest, await index.FindByDigestAsync("tests/index", Manifest.Digest, CancellationToken.None));
        Assert.Empty(await index.ListTagsAsync("tests/index", CancellationToken.None));
    }
}
