using System.Text.Json;
using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Host.Registry;

/// <summary>
/// Reads what the registry must check in a pushed OCI image manifest: that it is one, and the
/// blobs it names. Other fields (artifactType, annotations, subject) are kept as pushed.
/// </summary>
public static class PushedManifest
{
    /// <summary>Media types accepted by PUT /v2/&lt;name&gt;/manifests/&lt;reference&gt;.</summary>
    public static bool IsAcceptedMediaType(string? contentType) =>
        contentType is not null
        && string.Equals(contentType.Split(';', 2)[0].Trim(), MediaTypes.OciManifest, StringComparison.OrdinalIgnoreCase);

    /// <summary>The config and layer descriptors, in that order; 400 MANIFEST_INVALID naming the field when malformed.</summary>
    public static IReadOnlyList<OciDescriptor> ReadBlobReferences(ReadOnlyMemory<byte> manifest)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(manifest);
        }
        catch (JsonException e)
        {
            throw Invalid($"the manifest is not valid JSON: {e.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Invalid("the manifest must be a JSON object");
            }

            if (!root.TryGetProperty("schemaVersion", out var schema) || schema.ValueKind != JsonValueKind.Number || !schema.TryGetInt32(out var version) || version != 2)
            {
                throw Invalid("schemaVersion: must be 2");
            }

            if (root.TryGetProperty("mediaType", out var mediaType)
                && (mediaType.ValueKind != JsonValueKind.String || !string.Equals(mediaType.GetString(), MediaTypes.OciManifest, StringComparison.Ordinal)))
            {
                throw Invalid($"mediaType: must be {MediaTypes.OciManifest}, as the Content-Type says");
            }

            if (!root.TryGetProperty("config", out var config))
            {
                throw Invalid("config: required");
            }

            var references = new List<OciDescriptor> { ReadDescriptor(config, "config") };
            if (!root.TryGetProperty("layers", out var layers) || layers.ValueKind != JsonValueKind.Array)
            {
                throw Invalid("layers: required, an array of descriptors");
            }

            var index = 0;
            foreach (var layer in layers.EnumerateArray())
            {
                references.Add(ReadDescriptor(layer, $"layers[{index++}]"));
            }

            return references;
        }
    }

    private static OciDescriptor ReadDescriptor(JsonElement element, string field)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"{field}: must be a descriptor object");
        }

        if (!element.TryGetProperty("mediaType", out var mediaType) || mediaType.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(mediaType.GetString()))
        {
            throw Invalid($"{field}.mediaType: required");
        }

        if (!element.TryGetProperty("digest", out var digest) || digest.ValueKind != JsonValueKind.String || !ContentDigest.IsValid(digest.GetString()))
        {
            throw Invalid($"{field}.digest: required, a sha256 digest");
        }

        if (!element.TryGetProperty("size", out var size) || size.ValueKind != JsonValueKind.Number || !size.TryGetInt64(out var bytes) || bytes < 0)
        {
            throw Invalid($"{field}.size: required, a non-negative integer");
        }

        return new OciDescriptor(mediaType.GetString()!, digest.GetString()!, bytes);
    }

    private static RegistryErrorException Invalid(string message) =>
        new(StatusCodes.Status400BadRequest, "MANIFEST_INVALID", message);
}
