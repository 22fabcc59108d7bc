namespace EdgePlatform.ControlPlane.Host.Containers;

/// <summary>How releases become container images (section <c>Containerize</c>).</summary>
public sealed class ContainerizeOptions
{
    public const string Section = "Containerize";

    /// <summary>Where <see cref="BaseImageDirectory"/> points when unset, under the data directory.</summary>
    public const string DefaultBaseImageDirectoryName = "scorer-base";

    /// <summary>
    /// The scorer base image, an OCI image layout with one image per platform, as
    /// <c>deployment/scripts/build-scorer-image.sh --arch x64|arm64 --out DIR</c> writes it.
    /// Default <c>scorer-base</c> in the data directory.
    /// </summary>
    public string? BaseImageDirectory { get; set; }

    /// <summary>
    /// An external OCI registry (the CNCF distribution registry, say) to push images to, where
    /// devices pull from it (<c>Enrollment:RegistryUrl</c>). Unset, images go to the embedded
    /// registry, beside the release.
    /// </summary>
    public Uri? RegistryUrl { get; set; }
}
