using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.ControlPlane.Host.Datasets;

/// <summary>Dataset registration settings, section <c>Datasets</c>.</summary>
public sealed class DatasetOptions : IValidatableObject
{
    public const string Section = "Datasets";

    /// <summary>
    /// Directories the server may read <c>path</c> sources (and SQLite databases of <c>sqlite</c>
    /// connections) from, absolute. Default none: the server reads no path a client names.
    /// </summary>
    public List<string> AllowedPaths { get; set; } = [];

    /// <summary>The largest upload through an upload session. Default 100 GiB.</summary>
    [Range(1024, long.MaxValue)]
    public long MaxUploadBytes { get; set; } = 100L * 1024 * 1024 * 1024;

    /// <summary>The largest chunk one PATCH of an upload session may carry. Default 64 MiB.</summary>
    [Range(1024, int.MaxValue)]
    public long MaxChunkBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>How long a SQL source's query may run. Default 10 minutes.</summary>
    [Range(1, 86_400)]
    public int QueryTimeoutSeconds { get; set; } = 600;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var path in AllowedPaths)
        {
            if (!Path.IsPathFullyQualified(path))
            {
                yield return new ValidationResult($"Datasets:AllowedPaths: '{path}' is not an absolute path", [nameof(AllowedPaths)]);
            }
        }
    }
}
