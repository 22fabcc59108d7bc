using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using EdgePlatform.Agent.Core.Packages;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Contracts;
using EdgePlatform.Security;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Docker.Tests;

/// <summary>Model containers on a real Docker engine, from images the tests build and serve from an in-process registry.</summary>
[Trait("Category", "Integration")]
[Collection(DockerEngineGroup.Name)]
public sealed class DockerModelContainersTests(DockerEngineFixture engine) : IDisposable
{
    private readonly string _deviceId = $"{DockerEngineFixture.NamePrefix}-{Guid.NewGuid():N}";
    private readonly string _tokens = Directory.CreateTempSubdirectory("edgeplatform-dockertests-").FullName;
    private readonly FakeRegistry _registry = new();

    [Fact]
    public async Task StartAsync_HealthyImage_RunsLockedDownLabelledAndReachableOnLoopbackUntilDisposed()
    {
        var image = Serve(TestImage.Build(healthy: true));
        var containers = Containers();
        var release = TestImage.Release("pump", "1.0.0", image.Target("models/pump/image"));

        var container = await containers.StartAsync(release, CancellationToken.None);
        ContainerInspectResponse inspected;
        HttpStatusCode ready;
        try
        {
            inspected = await engine.Client.Containers.InspectContainerAsync(container.Id);
            using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
            using var response = await http.GetAsync(new Uri(container.BaseAddress, "v2/health/ready"));
            ready = response.StatusCode;
        }
        finally
        {
            await container.DisposeAsync();
        }

        Assert.Equal(image.ConfigDigest, inspected.Image);
        Assert.Equal("healthy", inspected.State.Health.Status);
        Assert.Equal(HttpStatusCode.OK, ready);
        Assert.True(inspected.HostConfig.ReadonlyRootfs);
        Assert.Contains("ALL", inspected.HostConfig.CapDrop);
        Assert.Contains("no-new-privileges", inspected.HostConfig.SecurityOpt);
        Assert.Equal(128L * 1024 * 1024, inspected.HostConfig.Memory);
        Assert.Equal(500_000_000L, inspected.HostConfig.NanoCPUs);
        Assert.True(inspected.HostConfig.Tmpfs.ContainsKey("/tmp"));
        Assert.All(inspected.HostConfig.PortBindings["8080/tcp"], binding => Assert.Equal("127.0.0.1", binding.HostIP));
        var token = Assert.Single(inspected.Mounts, mount => mount.Destination == DockerModelContainers.TokenPath);
        Assert.False(token.RW);
        Assert.Equal(_deviceId, inspected.Config.Labels[ContainerLabels.Device]);
        Assert.Equal("pump", inspected.Config.Labels[ContainerLabels.Model]);
        Assert.Equal("1.0.0", inspected.Config.Labels[ContainerLabels.Version]);
        Assert.Equal(release.Reference.ManifestDigest, inspected.Config.Labels[ContainerLabels.ManifestDigest]);
        Assert.Empty(await ContainersOfThisDevice());
    }

    [Fact]
    public async Task StartAsync_ImageFailsItsHealthCheck_FailsTheStageAndLeavesNoContainer()
    {
        var image = Serve(TestImage.Build(healthy: false));

        var ex = await Assert.ThrowsAsync<ModelStageException>(() =>
            Containers().StartAsync(TestImage.Release("pump", "2.0.0", image.Target("models/pump/image")), CancellationToken.None));

        Assert.Contains("unhealthy", ex.Message, StringComparison.Ordinal);
        Assert.Contains("pump:2.0.0", ex.Message, StringComparison.Ordinal);
        Assert.Empty(await ContainersOfThisDevice());
    }

    [Fact]
    public async Task StartAsync_ManifestDigestNotTheSignedOne_RefusedBeforeAnyImageOrContainerExists()
    {
        var signed = TestImage.Build(healthy: true);
        var served = Serve(TestImage.Build(healthy: true));

        // The registry answers the signed digest with another image's manifest.
        _registry.Put(signed.ManifestDigest, served.Manifest);
        var target = signed.Target("models/pump/image");
        var ex = await Assert.ThrowsAsync<PackageRejectedException>(() =>
            Containers().StartAsync(TestImage.Release("pump", "3.0.0", target), CancellationToken.None));

        Assert.Equal(VerificationChecks.ImageManifest, ex.Check);
        Assert.Contains(signed.ManifestDigest, ex.Message, StringComparison.Ordinal);
        Assert.Empty(await ContainersOfThisDevice());
        await Assert.ThrowsAsync<DockerImageNotFoundException>(() => engine.Client.Images.InspectImageAsync(served.ConfigDigest));
    }

    [Fact]
    public async Task StartAsync_ConfigDigestNotTheSignedOne_RefusedBeforeAnyImageOrContainerExists()
    {
        var image = Serve(TestImage.Build(healthy: true));
        var target = image.Target("models/pump/image");
        target = target with { Platforms = [target.Platforms[0] with { ConfigDigest = ContentDigest.Compute("another config"u8) }] };

        var ex = await Assert.ThrowsAsync<PackageRejectedException>(() =>
            Containers().StartAsync(TestImage.Release("pump", "3.1.0", target), CancellationToken.None));

        Assert.Equal(VerificationChecks.ImageId, ex.Check);
        Assert.Empty(await ContainersOfThisDevice());
        await Assert.ThrowsAsync<DockerImageNotFoundException>(() => engine.Client.Images.InspectImageAsync(image.ConfigDigest));
    }

    [Fact]
    public async Task StartAsync_LayerTamperedInTheRegistry_RefusedNamingTheBlob()
    {
        var image = Serve(TestImage.Build(healthy: true));
        var tampered = image.Layer.ToArray();
        tampered[^1] ^= 0xff;
        _registry.Put(image.LayerDigest, tampered);

        var ex = await Assert.ThrowsAsync<PackageRejectedException>(() =>
            Containers().StartAsync(TestImage.Release("pump", "3.2.0", image.Target("models/pump/image")), CancellationToken.None));

        Assert.Equal(VerificationChecks.ImageBlobDigest, ex.Check);
        Assert.Contains(image.LayerDigest, ex.Message, StringComparison.Ordinal);
        Assert.Empty(await ContainersOfThisDevice());
    }

    [Fact]
    public async Task StartAsync_ReleaseWithoutAnImageForThisPlatform_RefusedSayingWhichPlatforms()
    {
        var image = TestImage.Build(healthy: true);
        var target = image.Target("models/pump/image");
        target = target with { Platforms = [target.Platforms[0] with { Platform = "linux/s390x" }] };

        var ex = await Assert.ThrowsAsync<PackageRejectedException>(() =>
            Containers().StartAsync(TestImage.Release("pump", "4.0.0", target), CancellationToken.None));

        Assert.Equal(VerificationChecks.ImageManifest, ex.Check);
        Assert.Contains("linux/s390x", ex.Message, StringComparison.Ordinal);
        Assert.Contains(TestImage.Platform, ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, _registry.Fetches);
    }

    [Fact]
    public async Task RemoveStraysAsync_ContainerLeftByACrash_RemovedOnTheNextPassWhileHeldOnesAndOtherDevicesStay()
    {
        var image = Serve(TestImage.Build(healthy: true));
        var target = image.Target("models/pump/image");
        var crashed = Containers();
        var stray = await crashed.StartAsync(TestImage.Release("pump", "5.0.0", target), CancellationToken.None);
        var otherDevice = Containers(deviceId: _deviceId + "-other");
        await using var neighbour = await otherDevice.StartAsync(TestImage.Release("pump", "5.0.0", target), CancellationToken.None);

        // The agent starts again: a new runtime that holds nothing yet, then runs the release anew.
        var restarted = Containers();
        await using var held = await restarted.StartAsync(TestImage.Release("pump", "5.0.0", target), CancellationToken.None);
        var removed = await restarted.RemoveStraysAsync(CancellationToken.None);

        Assert.Equal(1, removed);
        var left = await ContainersOfThisDevice();
        Assert.Equal([held.Id], left.Select(container => container.ID));
        await Assert.ThrowsAsync<DockerContainerNotFoundException>(() => engine.Client.Containers.InspectContainerAsync(stray.Id));
        Assert.Equal("running", (await engine.Client.Containers.InspectContainerAsync(neighbour.Id)).State.Status);
    }

    public void Dispose() => Directory.Delete(_tokens, recursive: true);

    private TestImage Serve(TestImage image)
    {
        _registry.Add(image);
        engine.Images.Add(image.ConfigDigest);
        return image;
    }

    private DockerModelContainers Containers(string? deviceId = null) => new(
        engine.Client,
        _registry,
        Options.Create(new DockerOptions
        {
            Endpoint = engine.Endpoint.ToString(),
            MemoryLimitMb = 128,
            CpuLimit = 0.5,
            HealthCheckIntervalMs = 200,
            HealthTimeoutSeconds = 30,
            StopTimeoutSeconds = 1,
        }),
        _ => ValueTask.FromResult(deviceId ?? _deviceId),
        _tokens,
        TimeProvider.System,
        NullLogger<DockerModelContainers>.Instance,
        DockerEngineFixture.NamePrefix);

    private async Task<IList<ContainerListResponse>> ContainersOfThisDevice() =>
        await engine.Client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{ContainerLabels.Device}={_deviceId}"] = true } },
        });
}
