using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Trust;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Oci.Images;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.ControlPlane.Host.Tests.Containers;

/// <summary>
/// <c>POST /api/v1/models/{name}/versions/{version}/image</c> on the whole server, over a small
/// base image layout made here (a stand-in executable, both platforms): what lands in the embedded
/// registry and in the signed targets metadata.
/// </summary>
public sealed class ModelContainerizeApiTests : IDisposable
{
    private readonly string _base = Directory.CreateTempSubdirectory("edgeplatform-scorer-base-").FullName;

    [Fact]
    public async Task Containerize_PublishedRelease_PushesAnImagePerPlatformAndSignsTheIndex()
    {
        await WriteBaseAsync();
        using var server = Server();
        var onnx = await PublishAsync(server, "pump", "1.0.0");
        using var client = server.CreateClient();

        using var response = await client.PostAsync(new Uri("/api/v1/models/pump/versions/1.0.0/image", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var image = (await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.ModelImageInfo))!;
        Assert.Equal("models/pump/image", image.Repository);
        Assert.Equal(["linux/amd64", "linux/arm64"], image.Platforms.Select(p => p.Platform));

        var signed = server.Services.GetRequiredService<TufTrustPublisher>().Repository.Targets!.Targets["pump:1.0.0"].Image!;
        Assert.Equal(image.IndexDigest, signed.IndexDigest);
        Assert.Equal(image.Repository, signed.Repository);
        Assert.Equal(image.Platforms.Select(p => (p.Platform, p.ManifestDigest, p.ManifestSize, p.ConfigDigest)), signed.Platforms.Select(p => (p.Platform, p.ManifestDigest, p.ManifestSize, p.ConfigDigest)));

        var index = await client.GetByteArrayAsync(new Uri($"/v2/{image.Repository}/manifests/1.0.0", UriKind.Relative));
        Assert.Equal(image.IndexDigest, ContentDigest.Compute(index));
        var amd64 = image.Platforms[0];
        var manifest = JsonSerializer.Deserialize<JsonElement>(await client.GetByteArrayAsync(new Uri($"/v2/{image.Repository}/manifests/{amd64.ManifestDigest}", UriKind.Relative)));
        var config = await client.GetByteArrayAsync(new Uri($"/v2/{image.Repository}/blobs/{amd64.ConfigDigest}", UriKind.Relative));
        Assert.Equal(amd64.ConfigDigest, ContentDigest.Compute(config));
        var labels = JsonSerializer.Deserialize<JsonElement>(config).GetProperty("config").GetProperty("Labels");
        Assert.Equal("pump", labels.GetProperty(ScorerImage.ModelNameLabel).GetString());
        Assert.Equal("1.0.0", labels.GetProperty(ScorerImage.ModelVersionLabel).GetString());

        var top = manifest.GetProperty("layers").EnumerateArray().Last().GetProperty("digest").GetString()!;
        var files = await FilesOfLayerAsync(await client.GetByteArrayAsync(new Uri($"/v2/{image.Repository}/blobs/{top}", UriKind.Relative)));
        Assert.Equal(onnx, files["model/model.onnx"]);
        Assert.Equal("pump", ModelCard.Read(files["model/card.json"], out _)!.Name);
    }

    [Fact]
    public async Task Containerize_Twice_SameIndexAndTheTargetsMetadataUnchanged()
    {
        await WriteBaseAsync();
        using var server = Server();
        await PublishAsync(server, "valve", "2.0.0");
        using var client = server.CreateClient();
        var trust = server.Services.GetRequiredService<TufTrustPublisher>();

        var first = await ContainerizeAsync(client, "valve", "2.0.0");
        var targetsVersion = trust.Repository.Targets!.Version;
        var second = await ContainerizeAsync(client, "valve", "2.0.0");

        Assert.Equal(first.IndexDigest, second.IndexDigest);
        Assert.Equal(targetsVersion, trust.Repository.Targets!.Version);
    }

    [Fact]
    public async Task Containerize_NoBaseImage_ConflictNamingTheBuildScript()
    {
        using var server = Server();
        await PublishAsync(server, "fan", "1.0.0");
        using var client = server.CreateClient();

        using var response = await client.PostAsync(new Uri("/api/v1/models/fan/versions/1.0.0/image", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("deployment/scripts/build-scorer-image.sh", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_base, recursive: true);

    private ControlPlaneFactory Server() => ControlPlaneFactory.With(new Dictionary<string, string> { ["Containerize:BaseImageDirectory"] = _base });

    private static async Task<ModelImageInfo> ContainerizeAsync(HttpClient client, string name, string version)
    {
        using var response = await client.PostAsync(new Uri($"/api/v1/models/{name}/versions/{version}/image", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.ModelImageInfo))!;
    }

    /// <summary>A base of both platforms whose one layer holds a stand-in scorer executable.</summary>
    private async Task WriteBaseAsync()
    {
        var layout = await OciImageLayout.CreateOrOpenAsync(_base, CancellationToken.None);
        foreach (var platform in new[] { OciPlatform.LinuxArm64, OciPlatform.LinuxAmd64 })
        {
            var layer = await layout.WriteLayerAsync(
                [
                    OciLayerEntry.Directory("opt/edgeplatform/scorer"),
                    OciLayerEntry.File("opt/edgeplatform/scorer/EdgePlatform.Agent", System.Text.Encoding.UTF8.GetBytes($"scorer for {platform}"), (UnixFileMode)0x1ED),
                ],
                CancellationToken.None);
            var entry = await layout.WriteImageAsync(ScorerImage.BaseConfig(platform, [layer.DiffId]), [layer.Descriptor], CancellationToken.None);
            await layout.WriteIndexAsync((await layout.ReadIndexAsync(CancellationToken.None)).With(entry), CancellationToken.None);
        }
    }

    private static async Task<byte[]> PublishAsync(ControlPlaneFactory server, string name, string version)
    {
        var card = new ModelCard(
            name,
            version,
            ModelTasks.BinaryClassification,
            [new ModelInput("temperature", TensorElementTypes.Float32, [-1, 1], "temperature")],
            [new ModelOutput("PredictedLabel.output", TensorElementTypes.Bool, [-1, 1], PredictionFields.Label)],
            new Dictionary<string, double>(),
            new ModelLineage("run-1", name, "sha256:" + new string('d', 64), 100, "fasttree", new Dictionary<string, string>(), "test"),
            [],
            DateTimeOffset.UnixEpoch);
        byte[] onnx = [8, 7, .. System.Text.Encoding.UTF8.GetBytes(name + version)];
        await server.Services.GetRequiredService<ModelRegistry>().PublishAsync(new TrainedModel(card, onnx, null), CancellationToken.None);
        return onnx;
    }

    private static async Task<Dictionary<string, byte[]>> FilesOfLayerAsync(byte[] layer)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        await using var gzip = new GZipStream(new MemoryStream(layer), CompressionMode.Decompress);
        await using var tar = new TarReader(gzip);
        while (await tar.GetNextEntryAsync() is { } entry)
        {
            if (entry.EntryType == TarEntryType.RegularFile && entry.DataStream is { } data)
            {
                using var content = new MemoryStream();
                await data.CopyToAsync(content);
                files[entry.Name] = content.ToArray();
            }
        }

        return files;
    }
}
