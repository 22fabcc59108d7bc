using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Deployments;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NSubstitute;

namespace EdgePlatform.ControlPlane.Tests.Deployments;

public sealed class DeploymentServiceTests : IDisposable
{
    private static readonly string DigestV1 = "sha256:" + new string('1', 64);
    private static readonly string DigestV2 = "sha256:" + new string('2', 64);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryStore _store = new();
    private readonly IDeviceLink _link = Substitute.For<IDeviceLink>();
    private readonly List<(string DeviceId, DesiredState Desired)> _published = [];
    private readonly DesiredStateWriter _writer;
    private readonly DeploymentService _deployments;

    public DeploymentServiceTests()
    {
        _link.PublishDesiredAsync(Arg.Any<string>(), Arg.Any<DesiredState>(), Arg.Any<CancellationToken>())
            .Returns(call =>
            {
                // Batched writes publish concurrently, as the broker link allows.
                lock (_published)
                {
                    _published.Add((call.ArgAt<string>(0), call.ArgAt<DesiredState>(1)));
                }

                return Task.CompletedTask;
            });
        var registry = new ModelRegistry(_store, new InMemoryArtifactStore(), Substitute.For<ITrustPublisher>(), _time, NullLogger<ModelRegistry>.Instance);
        _writer = new DesiredStateWriter(_store, _link, NullLogger<DesiredStateWriter>.Instance);
        _deployments = new DeploymentService(
            registry,
            _store,
            _store,
            _writer,
            Options.Create(new EnrollmentOptions { GroupKey = "0123456789abcdef", TelemetryIntervalSeconds = 15 }),
            _time,
            NullLogger<DeploymentService>.Instance);

        _store.AddModel(Model("sensor", "1", DigestV1, "c2lnLTE="));
        _store.AddModel(Model("sensor", "2", DigestV2, "c2lnLTI="));
    }

    public void Dispose() => _writer.Dispose();

    [Fact]
    public async Task CreateAsync_NoModel_ThrowsValidationOnModel()
    {
        _store.AddDevice("dev-1");

        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _deployments.CreateAsync(new CreateDeploymentRequest("  ", ["dev-1"], null), CancellationToken.None));

        Assert.Equal("model", exception.Field);
        Assert.Empty(_published);
    }

    [Fact]
    public async Task CreateAsync_NoBody_ThrowsValidationOnBody()
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(() => _deployments.CreateAsync(null, CancellationToken.None));

        Assert.Equal("body", exception.Field);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(false, null)]
    public async Task CreateAsync_BothOrNeitherTargetKind_ThrowsValidationOnDevices(bool listDevices, bool? allDevices)
    {
        _store.AddDevice("dev-1");
        IReadOnlyList<string>? devices = listDevices ? ["dev-1"] : null;

        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _deployments.CreateAsync(new CreateDeploymentRequest("sensor", devices, allDevices), CancellationToken.None));

        Assert.Equal("devices", exception.Field);
        Assert.Empty(_published);
    }

    [Fact]
    public async Task CreateAsync_EmptyDeviceList_ThrowsValidationOnDevices()
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _deployments.CreateAsync(new CreateDeploymentRequest("sensor", [], null), CancellationToken.None));

        Assert.Equal("devices", exception.Field);
    }

    [Fact]
    public async Task CreateAsync_UnknownDevice_ThrowsNotFoundAndPublishesToNoDevice()
    {
        _store.AddDevice("dev-1");

        var exception = await Assert.ThrowsAsync<NotFoundException>(
            () => _deployments.CreateAsync(new CreateDeploymentRequest("sensor", ["dev-1", "x"], null), CancellationToken.None));

        Assert.Equal("device 'x' is not enrolled", exception.Message);
        Assert.Empty(_published);
        Assert.Null((await _store.GetDeviceAsync("dev-1", CancellationToken.None))!.Desired);
    }

    [Fact]
    public async Task CreateAsync_InvalidDeviceId_ThrowsValidationOnDevices()
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _deployments.CreateAsync(new CreateDeploymentRequest("sensor", ["Dev One"], null), CancellationToken.None));

        Assert.Equal("devices", exception.Field);
        Assert.Contains("'Dev One'", exception.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateAsync_UnknownModel_ThrowsNotFound()
    {
        _store.AddDevice("dev-1");

        var exception = await Assert.ThrowsAsync<NotFoundException>(
            () => _deployments.CreateAsync(new CreateDeploymentRequest("pressure", ["dev-1"], null), CancellationToken.None));

        Assert.Equal("model 'pressure' has no published version", exception.Message);
    }

    [Fact]
    public async Task CreateAsync_ModelByAlias_DeploysTheVersionTheAliasNames()
    {
        _store.AddDevice("dev-1");
        await _store.SetAliasAsync(new ModelAlias("sensor", "canary", "1", _time.Now, "ops"), CancellationToken.None);

        var deployment = await _deployments.CreateAsync(new CreateDeploymentRequest("sensor@canary", ["dev-1"], null), CancellationToken.None);

        Assert.Equal("1", deployment.ModelVersion);
        Assert.Equal(DigestV1, Assert.Single(_published).Desired.Deployment!.Model.ManifestDigest);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("onnx", null)]
    [InlineData("container", "container")]
    public async Task CreateAsync_Runtime_TheDesiredStateSaysWhereTheDeviceRunsTheModel(string? runtime, string? expected)
    {
        _store.AddDevice("dev-1");

        await _deployments.CreateAsync(new CreateDeploymentRequest("sensor:1", ["dev-1"], null, runtime), CancellationToken.None);

        var model = Assert.Single(_published).Desired.Deployment!.Model;
        Assert.Equal(expected, model.Runtime);
        Assert.Equal(expected is not null, model.RunsInContainer);
    }

    [Fact]
    public async Task CreateAsync_UnknownRuntime_ThrowsValidationOnRuntimeAndPublishesNothing()
    {
        _store.AddDevice("dev-1");

        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _deployments.CreateAsync(new CreateDeploymentRequest("sensor:1", ["dev-1"], null, "docker"), CancellationToken.None));

        Assert.Equal("runtime", exception.Field);
        Assert.Equal("runtime: 'docker' is not a runtime; use one of onnx, container", exception.Message);
        Assert.Empty(_published);
    }

    [Fact]
    public async Task CreateAsync_UnknownVersion_ThrowsNotFoundNamingTheVersion()
    {
        _store.AddDevice("dev-1");

        var exception = await Assert.ThrowsAsync<NotFoundException>(
            () => _deployments.CreateAsync(new CreateDeploymentRequest("sensor:9", ["dev-1"], null), CancellationToken.None));

        Assert.Equal("model 'sensor' has no version '9'", exception.Message);
    }

    [Fact]
    public async Task CreateAsync_InvalidModelName_ThrowsValidationOnModel()
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _deployments.CreateAsync(new CreateDeploymentRequest("Sensor!", null, true), CancellationToken.None));

        Assert.Equal("model", exception.Field);
    }

    [Fact]
    public async Task CreateAsync_AllDevicesWithNoneEnrolled_ThrowsValidationOnAllDevices()
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _deployments.CreateAsync(new CreateDeploymentRequest("sensor", null, true), CancellationToken.None));

        Assert.Equal("allDevices", exception.Field);
    }

    [Fact]
    public async Task CreateAsync_ExplicitDevices_PublishesTheModelsDigestAndSignatureToEach()
    {
        _store.AddDevice("dev-1");
        _store.AddDevice("dev-2");
        _store.AddDevice("dev-3");

        var info = await _deployments.CreateAsync(new CreateDeploymentRequest("sensor:1", ["dev-2", "dev-1"], null), CancellationToken.None);

        // Published concurrently, so in no particular order.
        Assert.Equal(["dev-1", "dev-2"], _published.Select(p => p.DeviceId).Order(StringComparer.Ordinal));
        foreach (var (_, desired) in _published)
        {
            var model = desired.Deployment!.Model;
            Assert.Equal(DigestV1, model.ManifestDigest);
            Assert.Equal("c2lnLTE=", model.Signature);
            Assert.Equal("models/sensor", model.Repository);
            Assert.Equal(("sensor", "1"), (model.Name, model.Version));
            Assert.Equal(info.Id, desired.Deployment.DeploymentId);
            Assert.Equal(1, desired.Version);
            Assert.Equal(15, desired.Telemetry.IntervalSeconds);
        }

        Assert.Equal(["dev-2", "dev-1"], info.Devices);
        Assert.Equal(("sensor", "1", DigestV1), (info.ModelName, info.ModelVersion, info.ManifestDigest));
        Assert.Equal(_time.Now, info.CreatedAt);
        Assert.Equal(info, Assert.Single(_store.Deployments));
        Assert.Null((await _store.GetDeviceAsync("dev-3", CancellationToken.None))!.Desired);
    }

    [Fact]
    public async Task CreateAsync_ModelWithoutVersion_DeploysTheNewest()
    {
        _store.AddDevice("dev-1");

        var info = await _deployments.CreateAsync(new CreateDeploymentRequest(" sensor ", ["dev-1"], null), CancellationToken.None);

        Assert.Equal("2", info.ModelVersion);
        Assert.Equal(DigestV2, Assert.Single(_published).Desired.Deployment!.Model.ManifestDigest);
    }

    [Fact]
    public async Task CreateAsync_RepeatedDeployments_IncreaseEachDevicesVersionByOne()
    {
        _store.AddDevice("dev-1");
        _store.AddDevice("dev-2", new DesiredState(41, null, new TelemetrySettings(60)));

        await _deployments.CreateAsync(new CreateDeploymentRequest("sensor:1", null, true), CancellationToken.None);
        await _deployments.CreateAsync(new CreateDeploymentRequest("sensor:2", ["dev-1", "dev-2"], null), CancellationToken.None);
        await _deployments.CreateAsync(new CreateDeploymentRequest("sensor:1", ["dev-2"], null), CancellationToken.None);

        Assert.Equal([1L, 2L], _published.Where(p => p.DeviceId == "dev-1").Select(p => p.Desired.Version));
        Assert.Equal([42L, 43L, 44L], _published.Where(p => p.DeviceId == "dev-2").Select(p => p.Desired.Version));
        Assert.Equal(60, _published.Last().Desired.Telemetry.IntervalSeconds);
        var stored = await _store.GetDeviceAsync("dev-2", CancellationToken.None);
        Assert.Equal(_published.Last().Desired, stored!.Desired);
    }

    [Fact]
    public async Task CreateAsync_ConcurrentDeployments_NeverRepeatAVersion()
    {
        _store.AddDevice("dev-1");

        await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            Task.Run(() => _deployments.CreateAsync(new CreateDeploymentRequest(i % 2 == 0 ? "sensor:1" : "sensor:2", ["dev-1"], null), CancellationToken.None))));

        Assert.Equal(Enumerable.Range(1, 20).Select(v => (long)v), _published.Select(p => p.Desired.Version).Order());
    }

    [Fact]
    public async Task CreateAsync_DuplicateDeviceInTheList_PublishesOnce()
    {
        _store.AddDevice("dev-1");

        var info = await _deployments.CreateAsync(new CreateDeploymentRequest("sensor", ["dev-1", "dev-1"], null), CancellationToken.None);

        Assert.Single(_published);
        Assert.Equal(["dev-1"], info.Devices);
    }

    private ModelRecord Model(string name, string version, string digest, string signature) =>
        new($"models/{name}", name, version, digest, 512, "sha256:" + new string('f', 64), 4096, signature, new Dictionary<string, double>(), _time.Now);
}
