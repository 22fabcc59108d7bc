using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Logging;

namespace EdgePlatform.ControlPlane.Models;

/// <summary>
/// Turns a trained model into a signed OCI model package: model card as the config blob,
/// <c>model.onnx</c> and the ML.NET model as layers, a manifest over them, a CMS signature
/// over the exact manifest bytes, and the release's entry in the signed targets metadata.
/// </summary>
public sealed partial class ModelRegistry(
    IModelStore store,
    IArtifactStore artifacts,
    ITrustPublisher trust,
    TimeProvider timeProvider,
    ILogger<ModelRegistry> logger)
{
    public const string VersionAnnotation = "org.opencontainers.image.version";
    public const string CreatedAnnotation = "org.opencontainers.image.created";
    public const string ModelNameAnnotation = "io.edgeplatform.model.name";

    public static string RepositoryFor(string modelName) => $"models/{modelName}";

    public async Task<ModelRecord> PublishAsync(TrainedModel model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        var card = model.Card;
        if (ModelNames.Describe(card.Name) is { } nameProblem)
        {
            throw new RequestValidationException("name", nameProblem);
        }

        if (await store.FindModelAsync(card.Name, card.Version, cancellationToken).ConfigureAwait(false) is not null)
        {
            throw new ConflictException($"model '{card.Name}' version '{card.Version}' already exists");
        }

        var cardBytes = JsonSerializer.SerializeToUtf8Bytes(card, ContractsJsonContext.Default.ModelCard);
        var config = await PutAsync(MediaTypes.ModelCard, cardBytes, null, cancellationToken).ConfigureAwait(false);
        var onnx = await PutAsync(MediaTypes.Onnx, model.OnnxModel, "model.onnx", cancellationToken).ConfigureAwait(false);
        var mlnet = await PutAsync(MediaTypes.MlNetModel, model.MlNetModel, "model.zip", cancellationToken).ConfigureAwait(false);

        var now = timeProvider.GetUtcNow();
        var manifest = new OciManifest(
            2,
            MediaTypes.OciManifest,
            MediaTypes.ModelArtifact,
            config,
            [onnx, mlnet],
            new Dictionary<string, string>
            {
                [ModelNameAnnotation] = card.Name,
                [VersionAnnotation] = card.Version,
                [CreatedAnnotation] = now.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            });
        var manifestBytes = JsonSerializer.SerializeToUtf8Bytes(manifest, ContractsJsonContext.Default.OciManifest);
        var manifestDigest = await artifacts.PutAsync(manifestBytes, cancellationToken).ConfigureAwait(false);
        var signature = Convert.ToBase64String(trust.SignManifest(manifestBytes));

        var record = new ModelRecord(
            RepositoryFor(card.Name),
            card.Name,
            card.Version,
            manifestDigest,
            manifestBytes.Length,
            onnx.Digest,
            onnx.Size,
            signature,
            card.Metrics,
            now);
        if (!await store.AddModelAsync(record, cancellationToken).ConfigureAwait(false))
        {
            throw new ConflictException($"model '{card.Name}' version '{card.Version}' already exists");
        }

        await trust.ApproveAsync(card.Name, card.Version, record.Repository, manifestDigest, manifestBytes.Length, cancellationToken).ConfigureAwait(false);

        LogPublished(card.Name, card.Version, manifestDigest);
        return record;
    }

    /// <summary>
    /// Replaces a release's manifest signature, e.g. after targets signing moved to offline
    /// keys; only a signature that meets the current targets threshold is accepted.
    /// </summary>
    public async Task<ModelRecord> ReplaceSignatureAsync(string name, string version, ReadOnlyMemory<byte> signature, CancellationToken cancellationToken)
    {
        var model = await ResolveAsync($"{name}:{version}", cancellationToken).ConfigureAwait(false);
        var stream = await artifacts.OpenReadAsync(model.ManifestDigest, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"the manifest of {name}:{version} is missing from the artifact store");
        byte[] manifest;
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            manifest = buffer.ToArray();
        }

        if (!trust.VerifiesAsTargets(manifest, signature.Span))
        {
            throw new RequestValidationException("body", $"the signature is not by enough targets keys of the current root for {name}:{version}'s manifest");
        }

        var encoded = Convert.ToBase64String(signature.Span);
        await store.UpdateModelSignatureAsync(name, version, encoded, cancellationToken).ConfigureAwait(false);
        LogSignatureReplaced(name, version);
        return model with { Signature = encoded };
    }

    public async Task<IReadOnlyList<ModelInfo>> ListAsync(CancellationToken cancellationToken)
    {
        var models = await store.ListModelsAsync(cancellationToken).ConfigureAwait(false);
        return [.. models.Select(m => m.ToInfo())];
    }

    /// <summary>Resolves <c>name</c> (newest version) or <c>name:version</c>.</summary>
    public async Task<ModelRecord> ResolveAsync(string reference, CancellationToken cancellationToken)
    {
        var colon = reference.IndexOf(':', StringComparison.Ordinal);
        var name = colon < 0 ? reference : reference[..colon];
        var version = colon < 0 ? null : reference[(colon + 1)..];
        if (ModelNames.Describe(name) is { } problem)
        {
            throw new RequestValidationException("model", $"name {problem}");
        }

        return await store.FindModelAsync(name, version, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException(version is null
                ? $"model '{name}' has no published version"
                : $"model '{name}' has no version '{version}'");
    }

    /// <summary>The next free integer version of a model ("1", "2", ...).</summary>
    public async Task<string> NextVersionAsync(string name, CancellationToken cancellationToken)
    {
        var models = await store.ListModelsAsync(cancellationToken).ConfigureAwait(false);
        var highest = models
            .Where(m => string.Equals(m.Name, name, StringComparison.Ordinal))
            .Select(m => int.TryParse(m.Version, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : 0)
            .DefaultIfEmpty(0)
            .Max();
        return (highest + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<OciDescriptor> PutAsync(string mediaType, byte[] content, string? title, CancellationToken cancellationToken)
    {
        var digest = await artifacts.PutAsync(content, cancellationToken).ConfigureAwait(false);
        return new OciDescriptor(
            mediaType,
            digest,
            content.Length,
            title is null ? null : new Dictionary<string, string> { [OciManifest.TitleAnnotation] = title });
    }

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Manifest signature of {Name}:{Version} replaced")]
    private partial void LogSignatureReplaced(string name, string version);

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Published model {Name} version {Version} as {ManifestDigest}")]
    private partial void LogPublished(string name, string version, string manifestDigest);
}

/// <summary>Model names become OCI repository path components, so they follow the OCI name grammar.</summary>
public static class ModelNames
{
    public static string? Describe(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "is required";
        }

        if (name.Length > 64)
        {
            return "is longer than 64 characters";
        }

        if (!char.IsAsciiLetterLower(name[0]) && !char.IsAsciiDigit(name[0]))
        {
            return "must start with a lowercase letter or a digit";
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c is not ('-' or '_' or '.'))
            {
                return $"may hold only lowercase letters, digits, '.', '_' and '-' (found '{c}')";
            }
        }

        return null;
    }
}
