using System.ComponentModel.DataAnnotations;
using Azure.Storage.Blobs;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Artifacts;

/// <summary>Where models, manifests and dataset snapshots are kept (the <see cref="IArtifactStore"/>).</summary>
public sealed class ArtifactOptions : IValidatableObject
{
    public const string Section = "Artifacts";

    public const string Disk = "disk";

    public const string Azure = "azure";

    /// <summary>
    /// <c>disk</c> (default): <c>blobs/</c> in the data directory, for one machine. <c>azure</c>:
    /// the Azure Blob Storage container <see cref="Container"/> in the account of
    /// <see cref="ConnectionString"/>, which every control-plane replica shares.
    /// </summary>
    [RegularExpression("^(disk|azure)$", ErrorMessage = "Artifacts:Provider must be 'disk' or 'azure'")]
    public string Provider { get; set; } = Disk;

    /// <summary>
    /// Azure Storage connection string for <c>azure</c>, e.g.
    /// <c>DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=core.windows.net</c>;
    /// it holds the account key, so it comes from the environment (<c>Artifacts__ConnectionString</c>)
    /// or a secret, never a checked-in file.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>The container for <c>azure</c>, created on first write when missing. Default <c>edgeplatform-artifacts</c>.</summary>
    public string Container { get; set; } = "edgeplatform-artifacts";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.Equals(Provider, Azure, StringComparison.Ordinal))
        {
            yield break;
        }

        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            yield return new ValidationResult(
                "Artifacts:ConnectionString is required when Artifacts:Provider is 'azure' (set Artifacts__ConnectionString in the environment)",
                [nameof(ConnectionString)]);
        }
        else if (ParseError(ConnectionString) is { } problem)
        {
            yield return new ValidationResult($"Artifacts:ConnectionString is not an Azure Storage connection string: {problem}", [nameof(ConnectionString)]);
        }

        if (!IsContainerName(Container))
        {
            yield return new ValidationResult(
                $"Artifacts:Container '{Container}' is not a container name: 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit",
                [nameof(Container)]);
        }
    }

    /// <summary>The container client for <c>azure</c>; call once the options are validated.</summary>
    public BlobContainerClient OpenContainer() => new BlobServiceClient(ConnectionString).GetBlobContainerClient(Container);

    private static string? ParseError(string connectionString)
    {
        try
        {
            _ = new BlobServiceClient(connectionString);
            return null;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
        {
            return e.Message;
        }
    }

    private static bool IsContainerName(string? name) =>
        name is { Length: >= 3 and <= 63 }
        && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')
        && name[0] != '-' && name[^1] != '-'
        && !name.Contains("--", StringComparison.Ordinal);
}
