using System.Formats.Tar;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Contracts;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.Agent.Docker.Tests;

/// <summary>
/// A tiny OCI image built in the test from the static busybox of the machine: its httpd plays a
/// model container's v2 server (it serves <c>/v2/health/ready</c> as a file) and its wget the
/// health check; an unhealthy variant's check always fails. Each image carries a unique label, so
/// its config digest (its image id) is its own.
/// </summary>
internal sealed class TestImage
{
    public const string Busybox = "/bin/busybox";

    private TestImage(byte[] manifest, byte[] config, byte[] layer)
    {
        Manifest = manifest;
        ManifestDigest = ContentDigest.Compute(manifest);
        Config = config;
        ConfigDigest = ContentDigest.Compute(config);
        Layer = layer;
        LayerDigest = ContentDigest.Compute(layer);
    }

    public static string Platform { get; } = DockerModelContainers.PlatformOf(RuntimeInformation.OSArchitecture);

    public byte[] Manifest { get; }

    public string ManifestDigest { get; }

    public byte[] Config { get; }

    public string ConfigDigest { get; }

    public byte[] Layer { get; }

    public string LayerDigest { get; }

    public static TestImage Build(bool healthy)
    {
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var directory in new[] { "bin/", "www/", "www/v2/", "www/v2/health/" })
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, directory) { Mode = (UnixFileMode)0b111_101_101, ModificationTime = DateTimeOffset.UnixEpoch });
            }

            using var busybox = File.OpenRead(Busybox);
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "bin/busybox") { Mode = (UnixFileMode)0b111_101_101, DataStream = busybox, ModificationTime = DateTimeOffset.UnixEpoch });
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "www/v2/health/ready")
            {
                Mode = (UnixFileMode)0b110_100_100,
                DataStream = new MemoryStream("ready"u8.ToArray()),
                ModificationTime = DateTimeOffset.UnixEpoch,
            });
        }

        var uncompressed = tar.ToArray();
        var gzipped = new MemoryStream();
        using (var gzip = new GZipStream(gzipped, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(uncompressed);
        }

        var layer = gzipped.ToArray();
        JsonArray test = healthy
            ? ["CMD", Busybox, "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/v2/health/ready"]
            : ["CMD", Busybox, "false"];
        var config = new JsonObject
        {
            ["architecture"] = Platform.Split('/')[1],
            ["os"] = "linux",
            ["config"] = new JsonObject
            {
                ["User"] = "65532",
                ["Entrypoint"] = new JsonArray(Busybox, "httpd", "-f", "-v", "-p", "8080", "-h", "/www"),
                ["ExposedPorts"] = new JsonObject { ["8080/tcp"] = new JsonObject() },
                ["Labels"] = new JsonObject { ["org.edgeplatform.test.image"] = Guid.NewGuid().ToString("N") },
                ["Healthcheck"] = new JsonObject { ["Test"] = test },
            },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(ContentDigest.Compute(uncompressed)) },
        };
        var configBytes = Encoding.UTF8.GetBytes(config.ToJsonString());
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = new JsonObject { ["mediaType"] = "application/vnd.oci.image.config.v1+json", ["digest"] = ContentDigest.Compute(configBytes), ["size"] = configBytes.Length },
            ["layers"] = new JsonArray(new JsonObject { ["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip", ["digest"] = ContentDigest.Compute(layer), ["size"] = layer.Length }),
        };
        return new TestImage(Encoding.UTF8.GetBytes(manifest.ToJsonString()), configBytes, layer);
    }

    /// <summary>The signed targets entry's image as the release would carry it.</summary>
    public ContainerImageTarget Target(string repository) =>
        new(repository, ContentDigest.Compute("index"u8), [new PlatformImage(Platform, ManifestDigest, Manifest.Length, ConfigDigest)]);

    /// <summary>An installed release of <paramref name="name"/> whose targets entry names <paramref name="image"/>.</summary>
    public static InstalledModel Release(string name, string version, ContainerImageTarget? image)
    {
        var reference = new ModelReference("models/" + name, name, version, ContentDigest.Compute(Encoding.UTF8.GetBytes(name + version)), 100, string.Empty)
        {
            Runtime = ModelRuntimeKinds.Container,
        };
        var card = new ModelCard(
            name,
            version,
            ModelTasks.BinaryClassification,
            [new ModelInput("features", TensorElementTypes.Float32, [-1, 1], "x")],
            [new ModelOutput("score", TensorElementTypes.Float32, [-1], PredictionFields.Score)],
            new Dictionary<string, double>(),
            new ModelLineage("run", "data", ContentDigest.Compute([]), 1, "test", new Dictionary<string, string>(), "test"),
            [],
            DateTimeOffset.UnixEpoch);
        return new InstalledModel(reference, card, "/nonexistent/model.onnx") { Image = image };
    }
}

/// <summary>A registry holding what a test put there, under whatever digest it was put: a tampered blob is served as asked.</summary>
internal sealed class FakeRegistry : IRegistryClient
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> _content = new(StringComparer.Ordinal);

    public int Fetches;

    public void Add(TestImage image)
    {
        _content[image.ManifestDigest] = image.Manifest;
        _content[image.ConfigDigest] = image.Config;
        _content[image.LayerDigest] = image.Layer;
    }

    public void Put(string digest, byte[] content) => _content[digest] = content;

    public Task<byte[]> GetManifestAsync(string repository, string digest, long maxBytes, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Fetches);
        return _content.TryGetValue(digest, out var bytes)
            ? Task.FromResult(bytes)
            : Task.FromException<byte[]>(new HttpRequestException($"manifest {digest} not found", null, System.Net.HttpStatusCode.NotFound));
    }

    public Task<byte[]?> GetSignatureAsync(string repository, string manifestDigest, CancellationToken cancellationToken) => Task.FromResult<byte[]?>(null);

    public Task<BlobContent> OpenBlobAsync(string repository, string digest, long offset, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Fetches);
        return _content.TryGetValue(digest, out var bytes)
            ? Task.FromResult(new BlobContent(new MemoryStream(bytes), false))
            : Task.FromException<BlobContent>(new HttpRequestException($"blob {digest} not found", null, System.Net.HttpStatusCode.NotFound));
    }
}
