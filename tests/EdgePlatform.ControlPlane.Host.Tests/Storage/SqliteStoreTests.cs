using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

public sealed class SqliteStoreTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public void Constructor_NewDatabase_MigratesToTheLatestSchemaInWalMode()
    {
        _ = new SqliteStore(_database.Path);

        Assert.Equal(SqliteMigrations.LatestVersion, _database.Scalar("PRAGMA user_version;"));
        Assert.True(SqliteMigrations.LatestVersion >= 1);
        // Thirty tables of the schema, and SQLite's own sqlite_sequence for the audit log's AUTOINCREMENT.
        Assert.Equal(32, _database.Scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"));
    }

    [Fact]
    public async Task Constructor_ExistingDatabase_OpensAndKeepsItsData()
    {
        var first = new SqliteStore(_database.Path);
        await first.UpsertDeviceAsync(Device("dev-1"), CancellationToken.None);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        var reopened = new SqliteStore(_database.Path);

        Assert.Equal(SqliteMigrations.LatestVersion, _database.Scalar("PRAGMA user_version;"));
        Assert.Equal("dev-1", Assert.Single(await reopened.ListDevicesAsync(CancellationToken.None)).Id);
    }

    [Fact]
    public void Constructor_DatabaseFromANewerServer_RefusesNamingBothVersions()
    {
        _ = new SqliteStore(_database.Path);
        _database.Scalar($"PRAGMA user_version = {SqliteMigrations.LatestVersion + 1}; SELECT 0;");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        var exception = Assert.Throws<InvalidOperationException>(() => new SqliteStore(_database.Path));

        Assert.Contains($"version {SqliteMigrations.LatestVersion + 1}", exception.Message, StringComparison.Ordinal);
        Assert.Contains("upgrade the server", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Constructor_DevicesStoredBeforeCompareAndSet_TakeTheirDesiredVersionFromTheDocument()
    {
        var store = new SqliteStore(_database.Path);
        await store.UpsertDeviceAsync(Device("dev-1"), CancellationToken.None);
        Assert.True(await store.SaveDesiredAsync("dev-1", new DesiredState(5, null, new TelemetrySettings(10)), 0, CancellationToken.None));
        _database.Scalar(SchemaRewind.ToStep7 + "SELECT 0;");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        var migrated = new SqliteStore(_database.Path);

        Assert.False(await migrated.SaveDesiredAsync("dev-1", new DesiredState(1, null, new TelemetrySettings(10)), 0, CancellationToken.None));
        Assert.True(await migrated.SaveDesiredAsync("dev-1", new DesiredState(6, null, new TelemetrySettings(10)), 5, CancellationToken.None));
    }

    [Fact]
    public async Task Constructor_DatabaseFromBeforeDigestsWereNamedForWhatTheyHash_KeepsEachUnderItsNewName()
    {
        var onnx = "sha256:" + new string('6', 64);
        var manifest = "sha256:" + new string('5', 64);
        var store = new SqliteStore(_database.Path);
        await store.AddModelAsync(new ModelRecord("models/m", "m", "1", manifest, 10, onnx, 20, "c2ln", new Dictionary<string, double>(), Now), CancellationToken.None);
        _database.Scalar(SchemaRewind.ToStep9 + "SELECT 0;");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        var model = await new SqliteStore(_database.Path).FindModelAsync("m", "1", CancellationToken.None);

        Assert.Equal((manifest, 10L, onnx, 20L), (model!.ManifestDigest, model.ManifestSize, model.OnnxDigest, model.OnnxSize));
        Assert.Equal(SqliteMigrations.LatestVersion, _database.Scalar("PRAGMA user_version;"));
    }

    [Fact]
    public async Task SaveDesiredAsync_ExpectedVersionIsStale_RefusesAndKeepsTheStoredDocument()
    {
        var store = new SqliteStore(_database.Path);
        await store.UpsertDeviceAsync(Device("dev-1"), CancellationToken.None);
        var first = new DesiredState(1, null, new TelemetrySettings(10));
        Assert.True(await store.SaveDesiredAsync("dev-1", first, 0, CancellationToken.None));

        var refused = await store.SaveDesiredAsync("dev-1", new DesiredState(1, null, new TelemetrySettings(99)), 0, CancellationToken.None);
        var accepted = await store.SaveDesiredAsync("dev-1", new DesiredState(2, null, new TelemetrySettings(20)), 1, CancellationToken.None);

        Assert.False(refused);
        Assert.True(accepted);
        Assert.Equal(new DesiredState(2, null, new TelemetrySettings(20)), (await store.GetDeviceAsync("dev-1", CancellationToken.None))!.Desired);
        Assert.False(await store.SaveDesiredAsync("dev-none", first, 0, CancellationToken.None));
    }

    [Fact]
    public async Task SaveDesiredManyAsync_OneDeviceMovedMeanwhile_TheOthersLandAndItKeepsItsDocument()
    {
        var store = new SqliteStore(_database.Path);
        foreach (var id in new[] { "dev-1", "dev-2", "dev-3" })
        {
            await store.UpsertDeviceAsync(Device(id), CancellationToken.None);
        }

        var other = new DesiredState(1, null, new TelemetrySettings(99));
        Assert.True(await store.SaveDesiredAsync("dev-2", other, 0, CancellationToken.None));
        var next = new DesiredState(1, null, new TelemetrySettings(10));

        var landed = await store.SaveDesiredManyAsync(
            [new("dev-1", next, 0), new("dev-2", next, 0), new("dev-3", next, 0), new("dev-none", next, 0)],
            CancellationToken.None);
        var stored = await store.GetDesiredManyAsync(["dev-1", "dev-2", "dev-3", "dev-none"], CancellationToken.None);

        Assert.Equal(["dev-1", "dev-3"], landed.Order(StringComparer.Ordinal));
        Assert.Equal(next, stored["dev-1"]);
        Assert.Equal(other, stored["dev-2"]);
        Assert.Equal(next, stored["dev-3"]);
        Assert.False(stored.ContainsKey("dev-none"));
    }

    [Fact]
    public async Task UpsertDeviceAsync_ReEnrollment_ReplacesCredentialAndTagsButKeepsTwinAndStatus()
    {
        var store = new SqliteStore(_database.Path);
        await store.UpsertDeviceAsync(Device("dev-1"), CancellationToken.None);
        var desired = new DesiredState(3, new DeploymentSpec("dep-1", new ModelReference("models/m", "m", "1", "sha256:" + new string('a', 64), 10, "c2ln")), new TelemetrySettings(10));
        Assert.True(await store.SaveDesiredAsync("dev-1", desired, 0, CancellationToken.None));
        await store.SaveStatusAsync("dev-1", DeviceStatuses.Online, Now.AddMinutes(1), CancellationToken.None);

        await store.UpsertDeviceAsync(Device("dev-1") with { CertificateThumbprint = "new-hash", Tags = new Dictionary<string, string> { ["site"] = "b" }, EnrolledAt = Now.AddDays(1) }, CancellationToken.None);

        var device = (await store.GetDeviceAsync("dev-1", CancellationToken.None))!;
        Assert.Equal("new-hash", device.CertificateThumbprint);
        Assert.Equal("b", device.Tags["site"]);
        Assert.Equal(desired, device.Desired);
        Assert.Equal(DeviceStatuses.Online, device.Status);
        Assert.Equal(Now, device.EnrolledAt);
        Assert.Equal(Now.AddMinutes(1), device.LastSeen);
    }

    [Fact]
    public async Task SaveReportedAsync_Document_RoundTrips()
    {
        var store = new SqliteStore(_database.Path);
        await store.UpsertDeviceAsync(Device("dev-1"), CancellationToken.None);
        var reported = new ReportedState("1.2.3", 3, [new ModelSlotReport(ModelSlots.Primary, "m", "1", "sha256:" + new string('a', 64), ModelSlotStates.Active, Now)], "none", Now);

        await store.SaveReportedAsync("dev-1", reported, Now.AddSeconds(1), CancellationToken.None);

        var device = (await store.GetDeviceAsync("dev-1", CancellationToken.None))!;
        Assert.Equal(reported with { Slots = [] }, device.Reported! with { Slots = [] });
        Assert.Equal(reported.Slots, device.Reported.Slots);
        Assert.Equal(Now.AddSeconds(1), device.LastSeen);
    }

    [Fact]
    public async Task AddModelAsync_SameNameAndVersion_FalseAndKeepsTheFirst()
    {
        var store = new SqliteStore(_database.Path);
        var model = Model("m", "1", Now, '1');

        Assert.True(await store.AddModelAsync(model, CancellationToken.None));
        Assert.False(await store.AddModelAsync(Model("m", "1", Now, '9'), CancellationToken.None));

        Assert.Equal(model.ManifestDigest, (await store.FindModelAsync("m", "1", CancellationToken.None))!.ManifestDigest);
    }

    [Fact]
    public async Task FindModelAsync_NoVersion_ReturnsTheNewest()
    {
        var store = new SqliteStore(_database.Path);
        await store.AddModelAsync(Model("m", "1", Now, '1'), CancellationToken.None);
        await store.AddModelAsync(Model("m", "2", Now.AddHours(1), '2'), CancellationToken.None);
        await store.AddModelAsync(Model("other", "5", Now.AddHours(2), '5'), CancellationToken.None);

        var newest = (await store.FindModelAsync("m", null, CancellationToken.None))!;

        Assert.Equal("2", newest.Version);
        Assert.Equal(0.9, newest.Metrics["auc"]);
        Assert.Equal(newest, await store.FindModelByDigestAsync("models/m", newest.ManifestDigest, CancellationToken.None), ModelComparer.Instance);
        Assert.Null(await store.FindModelByDigestAsync("models/other", newest.ManifestDigest, CancellationToken.None));
    }

    [Fact]
    public async Task ListDeploymentsAsync_AfterAdd_ReturnsTheTargets()
    {
        var store = new SqliteStore(_database.Path);
        var deployment = new DeploymentInfo("dep-1", "m", "1", "sha256:" + new string('a', 64), ["dev-1", "dev-2"], Now);

        await store.AddDeploymentAsync(deployment, CancellationToken.None);

        var listed = Assert.Single(await store.ListDeploymentsAsync(CancellationToken.None));
        Assert.Equal(deployment.Devices, listed.Devices);
        Assert.Equal(deployment with { Devices = [] }, listed with { Devices = [] });
    }

    private static DeviceRecord Device(string id) =>
        new(id, new Dictionary<string, string> { ["site"] = "a" }, "hash", Now, DeviceStatuses.NeverConnected, null, null, null);

    private static ModelRecord Model(string name, string version, DateTimeOffset createdAt, char digit) =>
        new($"models/{name}", name, version, "sha256:" + new string(digit, 64), 100, "sha256:" + new string('f', 64), 200, "c2ln", new Dictionary<string, double> { ["auc"] = 0.9 }, createdAt);

    private sealed class ModelComparer : IEqualityComparer<ModelRecord?>
    {
        private static readonly IReadOnlyDictionary<string, double> EmptyMetrics = new Dictionary<string, double>();

        public static ModelComparer Instance { get; } = new();

        public bool Equals(ModelRecord? x, ModelRecord? y) =>
            x is not null && y is not null && x with { Metrics = EmptyMetrics } == y with { Metrics = EmptyMetrics };

        public int GetHashCode(ModelRecord? obj) => obj?.ManifestDigest.GetHashCode(StringComparison.Ordinal) ?? 0;
    }
}
