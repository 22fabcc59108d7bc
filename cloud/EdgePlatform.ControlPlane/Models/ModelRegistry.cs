using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Logging;

namespace EdgePlatform.ControlPlane.Models;

/// <summary>
/// Turns a trained model into a signed OCI model package: model card as the config blob,
/// <c>model.onnx</c> and the ML.NET model (when there is one) as layers, a manifest over them, a CMS signature
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
        OciDescriptor[] layers = model.MlNetModel is { } mlnetModel
            ? [onnx, await PutAsync(MediaTypes.MlNetModel, mlnetModel, "model.zip", cancellationToken).ConfigureAwait(false)]
            : [onnx];

        var now = timeProvider.GetUtcNow();
        var manifest = new OciManifest(
            2,
            MediaTypes.OciManifest,
            MediaTypes.ModelArtifact,
            config,
            layers,
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

    /// <summary>Resolves <c>name</c> (newest version), <c>name:version</c> or <c>name@alias</c>.</summary>
    public async Task<ModelRecord> ResolveAsync(string reference, CancellationToken cancellationToken) =>
        (await ResolveReferenceAsync(reference, cancellationToken).ConfigureAwait(false)).Model;

    /// <summary>
    /// Resolves <c>name</c> (newest version), <c>name:version</c> or <c>name@alias</c>, and says
    /// which alias it went through (null for the other two). An alias that does not exist or is
    /// not well-formed is a bad request naming it; an unknown name or version is not found.
    /// </summary>
    public async Task<(ModelRecord Model, string? Alias)> ResolveReferenceAsync(string reference, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var at = reference.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            var aliasName = reference[..at];
            var alias = reference[(at + 1)..];
            if (ModelNames.Describe(aliasName) is { } nameProblem)
            {
                throw new RequestValidationException("model", $"'{reference}': name {nameProblem}");
            }

            if (ModelAliases.Describe(alias) is { } aliasProblem)
            {
                throw new RequestValidationException("model", $"'{reference}': alias {aliasProblem}");
            }

            var found = await store.FindAliasAsync(aliasName, alias, cancellationToken).ConfigureAwait(false);
            if (found is null)
            {
                var known = await store.ListAliasesAsync(aliasName, cancellationToken).ConfigureAwait(false);
                throw new RequestValidationException("model", known.Count == 0
                    ? $"model '{aliasName}' has no alias '{alias}' (it has none; set one with PUT /api/v1/models/{aliasName}/aliases/{alias})"
                    : $"model '{aliasName}' has no alias '{alias}' (its aliases: {string.Join(", ", known.Select(a => a.Alias))})");
            }

            var aliased = await store.FindModelAsync(aliasName, found.Version, cancellationToken).ConfigureAwait(false)
                ?? throw new NotFoundException($"alias {aliasName}@{alias} names version '{found.Version}', which no longer exists");
            return (aliased, alias);
        }

        var colon = reference.IndexOf(':', StringComparison.Ordinal);
        var name = colon < 0 ? reference : reference[..colon];
        var version = colon < 0 ? null : reference[(colon + 1)..];
        if (ModelNames.Describe(name) is { } problem)
        {
            throw new RequestValidationException("model", $"name {problem}");
        }

        var model = await store.FindModelAsync(name, version, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException(version is null
                ? $"model '{name}' has no published version"
                : $"model '{name}' has no version '{version}'");
        return (model, null);
    }

    /// <summary>The model card a published version's package carries (its manifest's config blob).</summary>
    public async Task<ModelCard> ReadCardAsync(ModelRecord model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        var manifest = JsonSerializer.Deserialize(await ReadBlobAsync(model, model.ManifestDigest, cancellationToken).ConfigureAwait(false), ContractsJsonContext.Default.OciManifest)
            ?? throw new InvalidOperationException($"the manifest of model '{model.Name}' version '{model.Version}' is empty");
        var config = await ReadBlobAsync(model, manifest.Config.Digest, cancellationToken).ConfigureAwait(false);
        return ModelCard.Read(config, out var problem)
            ?? throw new InvalidOperationException($"model '{model.Name}' version '{model.Version}' has no readable model card: {problem}");
    }

    /// <summary>Points <paramref name="alias"/> of model <paramref name="name"/> at an existing version, creating or moving it.</summary>
    public async Task<ModelAlias> SetAliasAsync(string name, string alias, SetModelAliasRequest? request, string actor, CancellationToken cancellationToken)
    {
        if (ModelNames.Describe(name) is { } nameProblem)
        {
            throw new RequestValidationException("name", nameProblem);
        }

        if (ModelAliases.Describe(alias) is { } aliasProblem)
        {
            throw new RequestValidationException("alias", aliasProblem);
        }

        if (string.IsNullOrWhiteSpace(request?.Version))
        {
            throw new RequestValidationException("version", $"is required: the version of '{name}' the alias names, such as {{\"version\": \"7\"}}");
        }

        var version = request.Version.Trim();
        if (await store.FindModelAsync(name, version, cancellationToken).ConfigureAwait(false) is null)
        {
            throw new RequestValidationException("version", $"model '{name}' has no version '{version}'");
        }

        var previous = await store.FindAliasAsync(name, alias, cancellationToken).ConfigureAwait(false);
        var set = new ModelAlias(name, alias, version, timeProvider.GetUtcNow(), actor);
        await store.SetAliasAsync(set, cancellationToken).ConfigureAwait(false);
        LogAliasSet(name, alias, previous?.Version ?? "none", version, actor);
        return set;
    }

    /// <summary>The aliases of a model that has at least one published version.</summary>
    public async Task<IReadOnlyList<ModelAlias>> ListAliasesAsync(string name, CancellationToken cancellationToken)
    {
        if (ModelNames.Describe(name) is { } nameProblem)
        {
            throw new RequestValidationException("name", nameProblem);
        }

        if (await store.FindModelAsync(name, null, cancellationToken).ConfigureAwait(false) is null)
        {
            throw new NotFoundException($"model '{name}' has no published version");
        }

        return await store.ListAliasesAsync(name, cancellationToken).ConfigureAwait(false);
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

    private async Task<byte[]> ReadBlobAsync(ModelRecord model, string digest, CancellationToken cancellationToken)
    {
        var stream = await artifacts.OpenReadAsync(digest, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"blob {digest} of model '{model.Name}' version '{model.Version}' is not stored");
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            return buffer.ToArray();
        }
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

    [LoggerMessage(EventId = 202, Level = LogLevel.Information, Message = "Alias {Name}@{Alias} moved from version {From} to {To} by {Actor}")]
    private partial void LogAliasSet(string name, string alias, string from, string to, string actor);

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

/// <summary>
/// Alias names start with a lowercase letter, so <c>name@7</c> cannot pass for a version and an
/// alias is never mistaken for one.
/// </summary>
public static class ModelAliases
{
    public static string? Describe(string? alias)
    {
        if (string.IsNullOrEmpty(alias))
        {
            return "is required after '@', such as production";
        }

        if (alias.Length > 64)
        {
            return "is longer than 64 characters";
        }

        if (!char.IsAsciiLetterLower(alias[0]))
        {
            return $"must start with a lowercase letter (found '{alias[0]}'), so it cannot be taken for a version";
        }

        foreach (var c in alias)
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c is not ('-' or '_' or '.'))
            {
                return $"may hold only lowercase letters, digits, '.', '_' and '-' (found '{c}')";
            }
        }

        return null;
    }
}
