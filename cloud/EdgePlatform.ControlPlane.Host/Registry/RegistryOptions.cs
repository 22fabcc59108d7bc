using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.ControlPlane.Host.Registry;

/// <summary>Limits of the embedded OCI registry's push side.</summary>
public sealed class RegistryOptions
{
    public const string Section = "Registry";

    /// <summary>Largest blob an upload may grow to; larger ones are refused with 413 SIZE_INVALID. Default 2 GiB.</summary>
    [Range(1, long.MaxValue)]
    public long MaxBlobBytes { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>Largest manifest accepted by PUT; manifests are read into memory to be checked. Default 4 MiB.</summary>
    [Range(1, 64 * 1024 * 1024)]
    public int MaxManifestBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Uploads open at once across all clients; one more is refused with 429 TOOMANYREQUESTS until
    /// one finishes or expires. A push opens one per blob, and clients upload a few blobs at a
    /// time. Default 64.
    /// </summary>
    [Range(1, 100_000)]
    public int MaxOpenUploads { get; set; } = 64;

    /// <summary>Uploads one token subject (an operator, a CI token) may have open at once; beyond it, 429 TOOMANYREQUESTS. Default 16.</summary>
    [Range(1, 100_000)]
    public int MaxOpenUploadsPerSubject { get; set; } = 16;

    /// <summary>
    /// Disk that uploads in progress may take together, in bytes; a chunk that would take them past
    /// it is refused with 429 TOOMANYREQUESTS and its upload stays where it was, to resume once
    /// other uploads finish. Default 8 GiB: four blobs of the largest size at once.
    /// </summary>
    [Range(1, long.MaxValue)]
    public long MaxUploadBytesInProgress { get; set; } = 8L * 1024 * 1024 * 1024;

    /// <summary>An upload untouched for this long is discarded with its partial file when the next upload starts. Default 1 hour.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan UploadIdleTimeout { get; set; } = TimeSpan.FromHours(1);
}
