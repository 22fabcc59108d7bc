using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.Mqtt;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.ControlPlane.Host.Tests.Apis;

/// <summary>What a device sees of a trained model: the registry, the deployment and the signature.</summary>
[Collection(TrainedServerFixture.Collection)]
public sealed class TrainedModelTests(TrainedServerFixture fixture)
{
    private const string Repository = "models/sensor-anomaly";

    [Fact]
    public void Train_BuiltInDataset_PublishesVersionOneWithMetrics()
    {
        Assert.Equal("sensor-anomaly", fixture.Run.ModelName);
        Assert.Equal("1", fixture.Run.ModelVersion);
        Assert.True(ContentDigest.IsValid(fixture.Run.ManifestDigest));
        Assert.NotEmpty(fixture.Run.Metrics!);
    }

    [Fact]
    public async Task GetManifest_ByDigest_ReturnsBytesThatHashToTheDigest()
    {
        using var client = fixture.Server.CreateClient();
        var digest = fixture.Run.ManifestDigest!;

        using var response = await client.GetAsync(new Uri($"/v2/{Repository}/manifests/{digest}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(MediaTypes.OciManifest, response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(digest, Assert.Single(response.Headers.GetValues("Docker-Content-Digest")));
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(digest, ContentDigest.Compute(bytes));
        var manifest = JsonSerializer.Deserialize(bytes, ContractsJsonContext.Default.OciManifest)!;
        Assert.Equal(MediaTypes.ModelArtifact, manifest.ArtifactType);
    }

    [Fact]
    public async Task GetManifest_ByVersionTag_IsTheSameManifest()
    {
        using var client = fixture.Server.CreateClient();

        using var response = await client.GetAsync(new Uri($"/v2/{Repository}/manifests/1", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(fixture.Run.ManifestDigest, ContentDigest.Compute(await response.Content.ReadAsByteArrayAsync()));
    }

    [Fact]
    public async Task GetManifest_Head_AnswersWithoutABody()
    {
        using var client = fixture.Server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Head, new Uri($"/v2/{Repository}/manifests/{fixture.Run.ManifestDigest}", UriKind.Relative));

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(fixture.Run.ManifestDigest, Assert.Single(response.Headers.GetValues("Docker-Content-Digest")));
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetBlob_ModelLayer_MatchesItsDescriptorAndServesRanges()
    {
        using var client = fixture.Server.CreateClient();
        var onnx = (await ManifestAsync(client)).FindLayer(MediaTypes.Onnx)!;
        var blobUri = new Uri($"/v2/{Repository}/blobs/{onnx.Digest}", UriKind.Relative);
        var whole = await client.GetByteArrayAsync(blobUri);
        Assert.Equal(onnx.Size, whole.Length);
        Assert.Equal(onnx.Digest, ContentDigest.Compute(whole));

        using var request = new HttpRequestMessage(HttpMethod.Get, blobUri);
        request.Headers.Range = new RangeHeaderValue(100, 199);
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(new ContentRangeHeaderValue(100, 199, whole.Length), response.Content.Headers.ContentRange);
        Assert.Equal(whole.AsSpan(100, 100).ToArray(), await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetBlob_OpenEndedRangeFromTheMiddle_ReturnsTheTail()
    {
        using var client = fixture.Server.CreateClient();
        var onnx = (await ManifestAsync(client)).FindLayer(MediaTypes.Onnx)!;
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"/v2/{Repository}/blobs/{onnx.Digest}", UriKind.Relative));
        request.Headers.Range = new RangeHeaderValue(onnx.Size - 10, null);

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(10, (await response.Content.ReadAsByteArrayAsync()).Length);
    }

    [Fact]
    public async Task Deploy_ToAnEnrolledDevice_DeliversADesiredStateSignedByATargetsKeyOfTheEnrollmentRoot()
    {
        using var client = fixture.Server.CreateClient();
        var enrollment = await EnrollAsync(client, "dev-e2e");
        var received = new TaskCompletionSource<DesiredState>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var device = new MqttConnection(
            new MqttConnectionSettings(enrollment.Enrollment.MqttHost, enrollment.Enrollment.MqttPort, "dev-e2e") { ClientCertificate = enrollment.Certificate, TrustedCa = enrollment.CaCertificate },
            NullLogger.Instance);
        device.Subscribe(Topics.Desired("dev-e2e"));
        device.OnMessage((message, _) =>
        {
            received.TrySetResult(JsonSerializer.Deserialize(message.Payload.Span, ContractsJsonContext.Default.DesiredState)!);
            return Task.CompletedTask;
        });
        device.Start();
        await device.WaitConnectedAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        using var deployed = await client.PostAsJsonAsync(
            new Uri("/api/v1/deployments", UriKind.Relative),
            new CreateDeploymentRequest("sensor-anomaly", ["dev-e2e"], null),
            ContractsJsonContext.Default.CreateDeploymentRequest);
        Assert.Equal(HttpStatusCode.Created, deployed.StatusCode);
        var desired = await received.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, desired.Version);
        var model = desired.Deployment!.Model;
        Assert.Equal(fixture.Run.ManifestDigest, model.ManifestDigest);
        var manifestBytes = await client.GetByteArrayAsync(new Uri($"/v2/{model.Repository}/manifests/{model.ManifestDigest}", UriKind.Relative));
        Assert.Equal(model.ManifestSize, manifestBytes.Length);
        using var targetsKey = fixture.Server.LoadKey(TufRoles.Targets);
        Assert.Contains(targetsKey.KeyId, TufEnvelopes.ValidCmsSigners(manifestBytes, Convert.FromBase64String(model.Signature), RootOf(enrollment.Enrollment), TufRoles.Targets));

        var info = (await client.GetFromJsonAsync(new Uri("/api/v1/devices/dev-e2e", UriKind.Relative), ContractsJsonContext.Default.DeviceInfo))!;
        Assert.Equal((1L, fixture.Run.ManifestDigest), (info.DesiredVersion, info.DesiredManifestDigest));
    }

    [Fact]
    public async Task Deploy_SignatureOverTheServedManifest_FailsForATamperedCopy()
    {
        using var client = fixture.Server.CreateClient();
        var enrollment = await EnrollAsync(client, "dev-tamper");
        var digest = fixture.Run.ManifestDigest!;
        var manifestBytes = await client.GetByteArrayAsync(new Uri($"/v2/{Repository}/manifests/{digest}", UriKind.Relative));
        using var deployed = await client.PostAsJsonAsync(
            new Uri("/api/v1/deployments", UriKind.Relative),
            new CreateDeploymentRequest("sensor-anomaly:1", ["dev-tamper"], null),
            ContractsJsonContext.Default.CreateDeploymentRequest);
        Assert.Equal(HttpStatusCode.Created, deployed.StatusCode);
        var signature = await SignatureFromTheDeviceLinkAsync(enrollment, "dev-tamper");

        var tampered = (byte[])manifestBytes.Clone();
        tampered[^2] ^= 0x20;
        var root = RootOf(enrollment.Enrollment);

        using var targetsKey = fixture.Server.LoadKey(TufRoles.Targets);
        Assert.Equal([targetsKey.KeyId], TufEnvelopes.ValidCmsSigners(manifestBytes, signature, root, TufRoles.Targets));
        Assert.Empty(TufEnvelopes.ValidCmsSigners(tampered, signature, root, TufRoles.Targets));
    }

    private static async Task<byte[]> SignatureFromTheDeviceLinkAsync(TestDevice enrolled, string deviceId)
    {
        // The desired state is retained, so a device that connects after the deployment still gets it.
        var received = new TaskCompletionSource<DesiredState>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var device = new MqttConnection(
            new MqttConnectionSettings(enrolled.Enrollment.MqttHost, enrolled.Enrollment.MqttPort, deviceId) { ClientCertificate = enrolled.Certificate, TrustedCa = enrolled.CaCertificate },
            NullLogger.Instance);
        device.Subscribe(Topics.Desired(deviceId));
        device.OnMessage((message, _) =>
        {
            received.TrySetResult(JsonSerializer.Deserialize(message.Payload.Span, ContractsJsonContext.Default.DesiredState)!);
            return Task.CompletedTask;
        });
        device.Start();
        var desired = await received.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return Convert.FromBase64String(desired.Deployment!.Model.Signature);
    }

    private static RootMetadata RootOf(EnrollmentResponse enrollment) =>
        TufEnvelopes.Read(TufEnvelopes.Parse(Encoding.UTF8.GetBytes(enrollment.TrustedRoot)), TufJsonContext.Default.RootMetadata, TufRoles.Root);

    private async Task<OciManifest> ManifestAsync(HttpClient client)
    {
        var bytes = await client.GetByteArrayAsync(new Uri($"/v2/{Repository}/manifests/{fixture.Run.ManifestDigest}", UriKind.Relative));
        return JsonSerializer.Deserialize(bytes, ContractsJsonContext.Default.OciManifest)!;
    }

    private async Task<TestDevice> EnrollAsync(HttpClient client, string deviceId) =>
        await TestDevices.EnrollAsync(client, fixture.Server.EnrollmentKey, deviceId);
}
