using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Registry;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Data.Sqlite;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

/// <summary>Opening SQLite files written by older (and newer) servers: the schema steps and <c>user_version</c>.</summary>
public sealed class SqliteMigrationsTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public void Open_NewDatabase_MigratesToTheLatestSchemaInWalMode()
    {
        using var stores = Stores.OpenSqlite(_database.Path);

        Assert.Equal(SqliteMigrations.LatestVersion, _database.Scalar("PRAGMA user_version;"));
        Assert.True(SqliteMigrations.LatestVersion >= 1);
        // Thirty tables of the schema, and SQLite's own sqlite_sequence for the audit log's AUTOINCREMENT.
        Assert.Equal(33, _database.Scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"));
    }

    [Fact]
    public async Task Open_ExistingDatabase_OpensAndKeepsItsData()
    {
        using (var first = Stores.OpenSqlite(_database.Path))
        {
            await first.Devices.UpsertDeviceAsync(Device("dev-1"), CancellationToken.None);
        }

        SqliteConnection.ClearAllPools();

        using var reopened = Stores.OpenSqlite(_database.Path);

        Assert.Equal(SqliteMigrations.LatestVersion, _database.Scalar("PRAGMA user_version;"));
        Assert.Equal("dev-1", Assert.Single(await reopened.Devices.ListDevicesAsync(CancellationToken.None)).Id);
    }

    [Fact]
    public void Open_DatabaseFromANewerServer_RefusesNamingBothVersions()
    {
        Stores.OpenSqlite(_database.Path).Dispose();
        _database.Scalar($"PRAGMA user_version = {SqliteMigrations.LatestVersion + 1}; SELECT 0;");
        SqliteConnection.ClearAllPools();

        var exception = Assert.Throws<InvalidOperationException>(() => Stores.OpenSqlite(_database.Path));

        Assert.Contains($"version {SqliteMigrations.LatestVersion + 1}", exception.Message, StringComparison.Ordinal);
        Assert.Contains("upgrade the server", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_DevicesStoredBeforeCompareAndSet_TakeTheirDesiredVersionFromTheDocument()
    {
        using (var before = Stores.OpenSqlite(_database.Path))
        {
            await before.Devices.UpsertDeviceAsync(Device("dev-1"), CancellationToken.None);
            Assert.True(await before.Devices.SaveDesiredAsync("dev-1", new DesiredState(5, null, new TelemetrySettings(10)), 0, CancellationToken.None));
        }

        _database.Scalar(SchemaRewind.ToStep7 + "SELECT 0;");
        SqliteConnection.ClearAllPools();

        using var migrated = Stores.OpenSqlite(_database.Path);

        Assert.False(await migrated.Devices.SaveDesiredAsync("dev-1", new DesiredState(1, null, new TelemetrySettings(10)), 0, CancellationToken.None));
        Assert.True(await migrated.Devices.SaveDesiredAsync("dev-1", new DesiredState(6, null, new TelemetrySettings(10)), 5, CancellationToken.None));
    }

    [Fact]
    public async Task Open_DatabaseFromBeforeDigestsWereNamedForWhatTheyHash_KeepsEachUnderItsNewName()
    {
        var onnx = "sha256:" + new string('6', 64);
        var manifest = "sha256:" + new string('5', 64);
        using (var before = Stores.OpenSqlite(_database.Path))
        {
            await before.Models.AddModelAsync(new ModelRecord("models/m", "m", "1", manifest, 10, onnx, 20, "c2ln", new Dictionary<string, double>(), Now), CancellationToken.None);
        }

        _database.Scalar(SchemaRewind.ToStep9 + "SELECT 0;");
        SqliteConnection.ClearAllPools();

        using var migrated = Stores.OpenSqlite(_database.Path);
        var model = await migrated.Models.FindModelAsync("m", "1", CancellationToken.None);

        Assert.Equal((manifest, 10L, onnx, 20L), (model!.ManifestDigest, model.ManifestSize, model.OnnxDigest, model.OnnxSize));
        Assert.Equal(SqliteMigrations.LatestVersion, _database.Scalar("PRAGMA user_version;"));
    }

    [Fact]
    public async Task Open_DatabaseFromBeforeTheRegistryTables_AddsThemAndKeepsItsData()
    {
        using (var before = Stores.OpenSqlite(_database.Path))
        {
            await before.Devices.UpsertDeviceAsync(Device("dev-1"), CancellationToken.None);
        }

        _database.Scalar(
            SchemaRewind.Step17 + SchemaRewind.Step16 + SchemaRewind.Step15 + SchemaRewind.Step14 + SchemaRewind.Step13 + SchemaRewind.Step12 + SchemaRewind.Step11 + SchemaRewind.Step10 + SchemaRewind.Step9 + SchemaRewind.Step8 +
            "DROP TABLE registry_manifests; DROP TABLE registry_tags; DROP TABLE api_tokens; DROP TABLE audit_log; DROP TABLE enrollment_groups; DROP TABLE rollouts; " +
            "ALTER TABLE devices RENAME COLUMN certificate_thumbprint TO credential_hash; ALTER TABLE devices DROP COLUMN certificate; ALTER TABLE devices DROP COLUMN attestation; " +
            "DROP TABLE telemetry_minutes; DROP TABLE telemetry_rejections; DROP TABLE telemetry_watermarks; DROP INDEX telemetry_by_time; " +
            "ALTER TABLE telemetry DROP COLUMN latency_p95_ms; ALTER TABLE telemetry DROP COLUMN queue_depth; " +
            "ALTER TABLE telemetry DROP COLUMN queue_bytes; ALTER TABLE telemetry DROP COLUMN reports_shed; PRAGMA user_version = 1; SELECT 0;");
        SqliteConnection.ClearAllPools();

        using var migrated = Stores.OpenSqlite(_database.Path);
        var manifest = new RegistryManifest("tests/index", ContentDigest.Compute([1]), MediaTypes.OciManifest, 300);
        await migrated.RegistryManifests.SaveAsync(manifest, "v1", Now, CancellationToken.None);

        Assert.Equal(SqliteMigrations.LatestVersion, _database.Scalar("PRAGMA user_version;"));
        Assert.Equal(1, _database.Scalar("SELECT COUNT(*) FROM devices"));
        Assert.Equal(manifest, await migrated.RegistryManifests.FindByTagAsync("tests/index", "v1", CancellationToken.None));
    }

    private static DeviceRecord Device(string id) =>
        new(id, new Dictionary<string, string> { ["site"] = "a" }, "hash", Now, DeviceStatuses.NeverConnected, null, null, null);
}
