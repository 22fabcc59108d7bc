using System.Formats.Tar;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgePlatform.Agent.Docker.Tests;
using EdgePlatform.Contracts;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.Agent.Tests.Runtime;

/// <summary>
/// A model's container image as the contract shapes it, built in the test from what this machine
/// has: the agent as built (framework-dependent, run by this machine's dotnet), the C libraries it
/// needs, no shell, user 65532, <c>scorer</c> as entrypoint and <c>scorer health</c> as health
/// check; plus one layer holding <c>/model/model.onnx</c> and <c>/model/card.json</c>. The base layer
/// is built once per test run and shared by every model image, as the released base is.
/// </summary>
internal static class ScorerImage
{
    private const string AppDirectory = "opt/edgeplatform/scorer/";
    private const string DotnetDirectory = "usr/share/dotnet/";

    private static readonly Lazy<(byte[] Gzipped, string DiffId)> Base = new(BuildBase);

    /// <summary>What the runtime, ASP.NET Core and ONNX Runtime load (OpenSSL for hashing), from this machine.</summary>
    private static readonly string[] Libraries =
        ["libc.so.6", "libdl.so.2", "libgcc_s.so.1", "libm.so.6", "libpthread.so.0", "librt.so.1", "libstdc++.so.6", "libssl.so.3", "libcrypto.so.3", "libz.so.1"];

    /// <summary>The image of <paramref name="card"/>'s model, its manifest, config and layers added to <paramref name="registry"/>.</summary>
    public static ContainerImageTarget Build(ModelCard card, string onnxPath, FakeRegistry registry, string repository)
    {
        var (baseLayer, baseDiffId) = Base.Value;
        var (modelLayer, modelDiffId) = Layer(writer =>
        {
            AddDirectory(writer, "model/");
            AddFile(writer, "model/model.onnx", File.ReadAllBytes(onnxPath), executable: false);
            AddFile(writer, "model/card.json", JsonSerializer.SerializeToUtf8Bytes(card, ContractsJsonContext.Default.ModelCard), executable: false);
        });
        var dotnet = "/" + DotnetDirectory + "dotnet";
        var agent = "/" + AppDirectory + "EdgePlatform.Agent.dll";
        var config = new JsonObject
        {
            ["architecture"] = TestImage.Platform.Split('/')[1],
            ["os"] = "linux",
            ["config"] = new JsonObject
            {
                ["User"] = "65532",
                ["WorkingDir"] = "/" + AppDirectory.TrimEnd('/'),
                ["Entrypoint"] = new JsonArray(dotnet, agent, "scorer"),
                ["Env"] = new JsonArray(
                    "InferenceHttp__BindAddress=0.0.0.0",
                    "InferenceHttp__Port=8080",
                    "Scorer__ModelDirectory=/model",
                    "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1",
                    "DOTNET_gcServer=0",
                    "HOME=/tmp"),
                ["ExposedPorts"] = new JsonObject { ["8080/tcp"] = new JsonObject() },
                ["Labels"] = new JsonObject { ["org.edgeplatform.model.name"] = card.Name, ["org.edgeplatform.model.version"] = card.Version },
                ["Healthcheck"] = new JsonObject { ["Test"] = new JsonArray("CMD", dotnet, agent, "scorer", "health") },
            },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(baseDiffId, modelDiffId) },
        };
        var configBytes = Encoding.UTF8.GetBytes(config.ToJsonString());
        var manifest = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = Descriptor("application/vnd.oci.image.config.v1+json", configBytes),
            ["layers"] = new JsonArray(Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", baseLayer), Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", modelLayer)),
        }.ToJsonString());
        foreach (var blob in new[] { manifest, configBytes, baseLayer, modelLayer })
        {
            registry.Put(ContentDigest.Compute(blob), blob);
        }

        return new ContainerImageTarget(
            repository,
            ContentDigest.Compute("index"u8),
            [new PlatformImage(TestImage.Platform, ContentDigest.Compute(manifest), manifest.Length, ContentDigest.Compute(configBytes))]);
    }

    private static JsonObject Descriptor(string mediaType, byte[] content) =>
        new() { ["mediaType"] = mediaType, ["digest"] = ContentDigest.Compute(content), ["size"] = content.Length };

    private static (byte[] Gzipped, string DiffId) BuildBase()
    {
        var dotnetRoot = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var agentOutput = AgentOutput();
        var multiarch = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
        var loader = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "lib/ld-linux-aarch64.so.1" : "lib64/ld-linux-x86-64.so.2";
        var rid = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        return Layer(writer =>
        {
            AddDirectory(writer, "tmp/");
            AddTree(writer, dotnetRoot, DotnetDirectory, path => !path.StartsWith("sdk", StringComparison.Ordinal) && !path.StartsWith("packs", StringComparison.Ordinal)
                && !path.StartsWith("templates", StringComparison.Ordinal) && !path.StartsWith("sdk-manifests", StringComparison.Ordinal) && !path.StartsWith("metadata", StringComparison.Ordinal));
            AddTree(writer, agentOutput, AppDirectory, path => !path.StartsWith("runtimes", StringComparison.Ordinal) || path.StartsWith($"runtimes/{rid}/", StringComparison.Ordinal));
            foreach (var library in Libraries)
            {
                var host = Path.Combine("/usr/lib", multiarch, library);
                if (File.Exists(host))
                {
                    AddFile(writer, $"lib/{multiarch}/{library}", File.ReadAllBytes(host), executable: true);
                }
            }

            AddFile(writer, loader, File.ReadAllBytes("/" + loader), executable: true);
        });
    }

    /// <summary>The agent project's own build output, in the configuration this test was built in.</summary>
    private static string AgentOutput()
    {
        var testOutput = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var framework = Path.GetFileName(testOutput);
        var configuration = Path.GetFileName(Path.GetDirectoryName(testOutput)!);
        var directory = new DirectoryInfo(testOutput);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "EdgePlatform.sln")))
        {
            directory = directory.Parent;
        }

        return Path.Combine(directory!.FullName, "edge", "EdgePlatform.Agent", "bin", configuration, framework);
    }

    private static (byte[] Gzipped, string DiffId) Layer(Action<TarWriter> write)
    {
        // Layers are built one at a time; each lists its own directories.
        Written.Clear();
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            write(writer);
        }

        var uncompressed = tar.ToArray();
        var gzipped = new MemoryStream();
        using (var gzip = new GZipStream(gzipped, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(uncompressed);
        }

        return (gzipped.ToArray(), ContentDigest.Compute(uncompressed));
    }

    private static readonly HashSet<string> Written = new(StringComparer.Ordinal);

    private static void AddTree(TarWriter writer, string hostRoot, string imageRoot, Func<string, bool> include)
    {
        foreach (var file in Directory.EnumerateFiles(hostRoot, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(hostRoot, file).Replace(Path.DirectorySeparatorChar, '/');
            if (include(relative))
            {
                var executable = (File.GetUnixFileMode(file) & UnixFileMode.UserExecute) != 0;
                AddFile(writer, imageRoot + relative, File.ReadAllBytes(file), executable);
            }
        }
    }

    private static void AddFile(TarWriter writer, string path, byte[] content, bool executable)
    {
        var parent = path.LastIndexOf('/');
        if (parent > 0)
        {
            AddDirectory(writer, path[..(parent + 1)]);
        }

        writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, path)
        {
            Mode = executable ? (UnixFileMode)0b111_101_101 : (UnixFileMode)0b110_100_100,
            DataStream = new MemoryStream(content),
            ModificationTime = DateTimeOffset.UnixEpoch,
        });
    }

    private static void AddDirectory(TarWriter writer, string path)
    {
        {
            var parts = path.TrimEnd('/').Split('/');
            for (var i = 1; i <= parts.Length; i++)
            {
                var directory = string.Join('/', parts[..i]) + "/";
                if (Written.Add(directory))
                {
                    writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, directory) { Mode = (UnixFileMode)0b111_101_101, ModificationTime = DateTimeOffset.UnixEpoch });
                }
            }
        }
    }
}
