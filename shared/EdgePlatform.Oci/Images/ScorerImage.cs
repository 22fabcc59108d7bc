using System.Globalization;

namespace EdgePlatform.Oci.Images;

/// <summary>
/// What a scorer image is: the agent's executable in its scorer mode under
/// <see cref="InstallDirectory"/>, serving v2 on <see cref="Port"/> as a non-root user, over the
/// model in <see cref="ModelDirectory"/> that a containerized model's top layer adds.
/// </summary>
public static class ScorerImage
{
    public const string InstallDirectory = "/opt/edgeplatform/scorer";
    public const string Executable = InstallDirectory + "/EdgePlatform.Agent";
    public const string ModelDirectory = "/model";
    public const int Port = 8080;

    /// <summary>A user no distribution gives a name to (distroless's "nonroot"), owning nothing in the image.</summary>
    public const int UserId = 65532;

    public const string ModelNameLabel = "org.edgeplatform.model.name";
    public const string ModelVersionLabel = "org.edgeplatform.model.version";
    public const string ModelManifestDigestLabel = "org.edgeplatform.model.manifest-digest";

    /// <summary>The config of the base image (no model) over a root filesystem of <paramref name="diffIds"/>.</summary>
    public static OciImageConfig BaseConfig(OciPlatform platform, IReadOnlyList<string> diffIds)
    {
        ArgumentNullException.ThrowIfNull(platform);
        ArgumentNullException.ThrowIfNull(diffIds);
        var user = UserId.ToString(CultureInfo.InvariantCulture);
        return new OciImageConfig(
            platform.Architecture,
            platform.Os,
            new OciContainerConfig(
                User: $"{user}:{user}",
                Env:
                [
                    "InferenceHttp__BindAddress=0.0.0.0",
                    $"InferenceHttp__Port={Port.ToString(CultureInfo.InvariantCulture)}",
                    $"Scorer__ModelDirectory={ModelDirectory}",
                ],
                Entrypoint: [Executable, "scorer"],
                Cmd: null,
                WorkingDir: InstallDirectory,
                ExposedPorts: new SortedDictionary<string, OciEmptyObject>(StringComparer.Ordinal) { [$"{Port.ToString(CultureInfo.InvariantCulture)}/tcp"] = new() },
                Labels: null,
                Healthcheck: new OciHealthcheck([HealthcheckCommand, Executable, "scorer", "health"])),
            new OciRootFs(OciRootFs.LayersType, diffIds));
    }

    /// <summary><paramref name="config"/> of a base with the model layer on top and labels naming the model.</summary>
    public static OciImageConfig WithModel(OciImageConfig config, string modelDiffId, string modelName, string modelVersion, string manifestDigest)
    {
        ArgumentNullException.ThrowIfNull(config);
        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in config.Config.Labels ?? new Dictionary<string, string>())
        {
            labels[key] = value;
        }

        labels[ModelNameLabel] = modelName;
        labels[ModelVersionLabel] = modelVersion;
        labels[ModelManifestDigestLabel] = manifestDigest;
        return config with
        {
            Config = config.Config with { Labels = labels },
            RootFs = config.RootFs with { DiffIds = [.. config.RootFs.DiffIds, modelDiffId] },
        };
    }

    /// <summary>The layer a containerized model adds: <c>/model/model.onnx</c> and <c>/model/card.json</c>, readable by the scorer's user.</summary>
    public static IReadOnlyList<OciLayerEntry> ModelLayer(Func<Stream> openOnnx, byte[] card) =>
    [
        OciLayerEntry.Directory(ModelDirectory.TrimStart('/')),
        OciLayerEntry.File($"{ModelDirectory.TrimStart('/')}/model.onnx", openOnnx),
        OciLayerEntry.File($"{ModelDirectory.TrimStart('/')}/card.json", card),
    ];

    /// <summary>Docker's health-check form that runs a program with no shell.</summary>
    private const string HealthcheckCommand = "CMD";
}
