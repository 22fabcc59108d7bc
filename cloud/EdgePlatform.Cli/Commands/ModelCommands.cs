using System.CommandLine;
using System.Text.Json;
using EdgePlatform.Cli.Output;
using EdgePlatform.Contracts;
using EdgePlatform.Security;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.Cli.Commands;

/// <summary><c>edgectl model import|verify|inspect</c>: register a model trained elsewhere, check a release the way a device does, or show what it holds.</summary>
public static class ModelCommands
{
    public static Command Create()
    {
        var list = FleetCommands.Models().Subcommands.Single(c => c.Name == "list");
        return new Command("model", "One model release: import one trained elsewhere, verify it as a device would, approve it with offline keys, inspect it, or name it with an alias") { Import(), Verify(), Sign(), Push(), Containerize(), Inspect(), Alias(), list };
    }

    public static IReadOnlyList<Column<ModelAlias>> AliasColumns { get; } =
    [
        new("ALIAS", a => $"{a.Name}@{a.Alias}"),
        new("VERSION", a => a.Version),
        new("SET BY", a => a.UpdatedBy),
        new("SET AT", a => Render.Age(a.UpdatedAt)) { WideValue = a => Render.Time(a.UpdatedAt) },
    ];

    /// <summary><c>edgectl model alias set|list</c>: names such as production for one version, which rollouts name as name@alias.</summary>
    private static Command Alias()
    {
        var name = new Argument<string>("name") { Description = "Model name" };
        var alias = new Argument<string>("alias") { Description = "Alias, such as production (lowercase letters, digits, '.', '_', '-'; starts with a letter)" };
        var version = new Argument<string>("version") { Description = "The version the alias names from now on" };
        var set = new Command("set", "Point an alias at a version, creating or moving it; rollouts created from now on as name@alias get that version") { name, alias, version };
        set.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var result = await api.SetModelAliasAsync(parse.GetValue(name)!, parse.GetValue(alias)!, parse.GetValue(version)!, ct).ConfigureAwait(false);
            if (parse.IsDocument())
            {
                Render.Document(parse.Format(), result, ContractsJsonContext.Default.ModelAlias);
            }
            else
            {
                Console.Out.WriteLine($"{result.Name}@{result.Alias} → {result.Name}:{result.Version}");
            }

            return 0;
        });

        var listName = new Argument<string>("name") { Description = "Model name" };
        var list = new Command("list", "A model's aliases and the versions they name") { listName };
        list.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var aliases = await api.ListModelAliasesAsync(parse.GetValue(listName)!, ct).ConfigureAwait(false);
            return Render.List(parse, aliases, ContractsJsonContext.Default.IReadOnlyListModelAlias, AliasColumns);
        });

        return new Command("alias", "Names for model versions (production, canary), set by people and read when a rollout is created") { set, list };
    }

    /// <summary><c>edgectl model import NAME --onnx --card --sample</c>: the server checks the three with ONNX Runtime, then signs and publishes the next version.</summary>
    private static Command Import()
    {
        var name = new Argument<string>("name") { Description = "Model name; the server gives the import the next version" };
        var onnx = new Option<FileInfo>("--onnx") { Description = "The ONNX graph (from PyTorch, scikit-learn, anything that exports ONNX)", Required = true };
        var card = new Option<FileInfo>("--card") { Description = "Model card JSON: task, inputs with their event fields, outputs, classes, metrics, lineage (docs/training.md, \"Importing a model\")", Required = true };
        var sample = new Option<FileInfo>("--sample") { Description = "Sample JSON: {\"rows\": [{\"event\": {...}, \"expected\": {...}}]}, checked on the server before it signs", Required = true };
        var import = new Command("import", "Register an ONNX model trained elsewhere as a signed version, once the server has checked its card and sample with ONNX Runtime")
        {
            name, onnx, card, sample,
        };
        import.SetAction(async (parse, ct) =>
        {
            var request = new ModelImportRequest(
                await ReadFileAsync(parse.GetValue(onnx)!, ct).ConfigureAwait(false),
                ReadJson(parse.GetValue(card)!, ContractsJsonContext.Default.ModelImportCard),
                ReadJson(parse.GetValue(sample)!, ContractsJsonContext.Default.ModelImportSample));
            using var api = parse.CreateApi();
            Console.Error.WriteLine($"uploading {request.Onnx!.Length:N0} bytes of ONNX and {request.Sample!.Rows?.Count ?? 0} sample row(s); the server checks them before it signs");
            var model = await api.ImportModelAsync(parse.GetValue(name)!, request, ct).ConfigureAwait(false);
            if (parse.IsDocument())
            {
                Render.Document(parse.Format(), model, ContractsJsonContext.Default.ModelInfo);
            }
            else
            {
                Console.Out.WriteLine($"{model.Name}:{model.Version} imported and signed ({model.ManifestDigest}); roll it out like any version: edgectl rollout create {model.Name}:{model.Version} ...");
            }

            return 0;
        });
        return import;
    }

    private static async Task<byte[]> ReadFileAsync(FileInfo file, CancellationToken ct) =>
        file.Exists ? await File.ReadAllBytesAsync(file.FullName, ct).ConfigureAwait(false) : throw new CliException($"file {file.FullName} does not exist");

    private static T ReadJson<T>(FileInfo file, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : class
    {
        if (!file.Exists)
        {
            throw new CliException($"file {file.FullName} does not exist");
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(file.FullName), type) ?? throw new CliException($"{file.FullName} is empty (null)");
        }
        catch (JsonException ex)
        {
            throw new CliException($"{file.FullName} is not valid JSON for this option: {ex.Message}", ex);
        }
    }

    private static Command Verify()
    {
        var reference = new Argument<string>("model") { Description = "name (newest version) or name:version" };
        var channel = new Option<string>("--channel") { Description = "Channel to verify the approval for (default production)", DefaultValueFactory = _ => "production" };
        var rootFile = new Option<string>("--root") { Description = "Root metadata to trust (default: the server's version 1, trusted on first use)" };
        var verify = new Command("verify", "Run every check a device runs before installing a release; exit 1 naming the first that fails")
        {
            reference, channel, rootFile,
        };
        verify.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var results = new List<CheckResult>();
            var ok = await RunChecksAsync(api, parse.GetValue(reference)!, parse.GetValue(channel)!, parse.GetValue(rootFile), results, ct).ConfigureAwait(false);
            if (parse.IsDocument())
            {
                Console.Out.WriteLine(Render.Serialize(parse.Format(), new VerifyReport(ok, results), ModelJsonContext.Default.VerifyReport));
            }
            else
            {
                Render.Table(["CHECK", "RESULT", "DETAIL"], results.Select(r => (IReadOnlyList<string>)[r.Check, r.Passed ? "ok" : "FAILED", r.Detail]));
                var failed = results.FirstOrDefault(r => !r.Passed);
                Console.Out.WriteLine(failed is null
                    ? "verified: a device on this channel would install this release"
                    : $"refused: {failed.Check} check failed: {VerificationChecks.Explain(failed.Check)}");
            }

            return ok ? 0 : 1;
        });
        return verify;
    }

    private static Command Sign()
    {
        var reference = new Argument<string>("model") { Description = "name (newest version) or name:version" };
        var keys = new Option<string[]>("--key") { Description = "Targets key file(s) to sign with (enough for the targets threshold)", AllowMultipleArgumentsPerToken = true, Required = true };
        var channels = new Option<string[]>("--channel") { Description = "Channel(s) to approve the release for (default production)", AllowMultipleArgumentsPerToken = true };
        var days = new Option<int>("--expires-days") { Description = "Days until the new targets metadata expires (default 30)", DefaultValueFactory = _ => 30 };
        var sign = new Command("sign", "Approve a release in the targets metadata and sign its manifest with targets keys held offline")
        {
            reference, keys, channels, days,
        };
        sign.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var model = await api.GetModelAsync(parse.GetValue(reference)!, ct).ConfigureAwait(false);
            var approved = parse.GetValue(channels) is { Length: > 0 } given ? given.Distinct(StringComparer.Ordinal).ToList() : ["production"];
            var signingKeys = parse.GetValue(keys)!.Select(file => File.Exists(file)
                ? TufSigningKey.FromPem(File.ReadAllText(file))
                : throw new CliException($"key file {file} does not exist")).ToList();
            try
            {
                var now = DateTimeOffset.UtcNow;
                var current = TufEnvelopes.Read(
                    TufEnvelopes.Parse(await api.GetBytesAsync("api/v1/trust/targets", ct).ConfigureAwait(false)),
                    TufJsonContext.Default.TargetsMetadata,
                    TufRoles.Targets);
                var entries = new Dictionary<string, TargetEntry>(current.Targets, StringComparer.Ordinal)
                {
                    // A containerized release keeps its image: signing approves the same release, image included.
                    [$"{model.Name}:{model.Version}"] = new TargetEntry(model.Repository, model.ManifestDigest, model.ManifestSize, approved)
                    {
                        Image = current.Targets.TryGetValue($"{model.Name}:{model.Version}", out var existing) && existing.Digest == model.ManifestDigest ? existing.Image : null,
                    },
                };
                var next = new TargetsMetadata(TufRoles.Targets, current.Version + 1, now.AddDays(parse.GetValue(days)), entries);
                var envelope = TufEnvelopes.Create(next, TufJsonContext.Default.TargetsMetadata, signingKeys, now);
                await api.PutAsync("api/v1/trust/targets", TufEnvelopes.Serialize(envelope), ct).ConfigureAwait(false);

                var manifest = await api.GetManifestAsync(model.Repository, model.ManifestDigest, ct).ConfigureAwait(false);
                if (ContentDigest.Compute(manifest) != model.ManifestDigest)
                {
                    throw new CliException($"the registry served a manifest that does not hash to {model.ManifestDigest}; not signing it");
                }

                var signature = TufSigningKey.SignDetached(manifest, signingKeys, now);
                await api.PutAsync($"api/v1/models/{model.Name}/versions/{model.Version}/signature", signature, ct).ConfigureAwait(false);
                Console.Out.WriteLine($"{model.Name}:{model.Version} approved for [{string.Join(", ", approved)}] in targets version {next.Version}, manifest signed by {signingKeys.Count} key(s)");
            }
            catch (TufFormatException ex)
            {
                throw new CliException(ex.Message, ex);
            }
            finally
            {
                signingKeys.ForEach(k => k.Dispose());
            }

            return 0;
        });
        return sign;
    }

    private static Command Push()
    {
        var reference = new Argument<string>("model") { Description = "name (newest version) or name:version" };
        var registry = CliOptions.UrlOption("--registry", "Target OCI registry, e.g. http://127.0.0.1:5000 (the CNCF distribution registry)");
        registry.Required = true;
        var push = new Command("push", "Copy a release (blobs, manifest tagged with its version, signature under sha256-<hex>.sig) to another OCI registry")
        {
            reference, registry,
        };
        push.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var model = await api.GetModelAsync(parse.GetValue(reference)!, ct).ConfigureAwait(false);
            // A registry with token authentication whose realm is this control plane accepts the API token there.
            using var http = new HttpClient(ApiClient.RegistryHandler(api.Token, api.Server, api.Pin)) { Timeout = TimeSpan.FromMinutes(10) };
            var target = new EdgePlatform.Oci.OciDistributionClient(http, parse.GetValue(registry)!);
            var manifestBytes = await api.GetManifestAsync(model.Repository, model.ManifestDigest, ct).ConfigureAwait(false);
            if (ContentDigest.Compute(manifestBytes) != model.ManifestDigest)
            {
                throw new CliException($"the control plane served a manifest that does not hash to {model.ManifestDigest}");
            }

            var manifest = JsonSerializer.Deserialize(manifestBytes, ContractsJsonContext.Default.OciManifest)
                ?? throw new CliException("the manifest is empty");
            long bytes = 0;
            foreach (var blob in manifest.Layers.Prepend(manifest.Config))
            {
                var content = await api.GetBlobAsync(model.Repository, blob.Digest, ct).ConfigureAwait(false);
                var pushed = await target.PushBlobAsync(model.Repository, content, blob.MediaType, ct).ConfigureAwait(false);
                if (pushed.Digest != blob.Digest)
                {
                    throw new CliException($"blob {blob.Digest} arrived as {pushed.Digest}; the source is corrupt");
                }

                bytes += content.Length;
            }

            await target.PushManifestAsync(model.Repository, model.Version, manifestBytes, MediaTypes.OciManifest, ct).ConfigureAwait(false);
            await target.PushSignatureAsync(model.Repository, model.ManifestDigest, Convert.FromBase64String(model.Signature), ct).ConfigureAwait(false);
            Console.Out.WriteLine(parse.IsDocument()
                ? Render.Serialize(parse.Format(), new Dictionary<string, string> { ["repository"] = model.Repository, ["digest"] = model.ManifestDigest, ["registry"] = parse.GetValue(registry)!.ToString() }, CliJsonContext.Default.DictionaryStringString)
                : $"{model.Name}:{model.Version} pushed to {parse.GetValue(registry)}{model.Repository}@{model.ManifestDigest} ({bytes} bytes of blobs, signature under {OciManifest.SignatureTag(model.ManifestDigest)})");
            return 0;
        });
        return push;
    }

    /// <summary><c>edgectl model containerize NAME:VERSION</c>: the release as a container image the agent and any container host run.</summary>
    private static Command Containerize()
    {
        var reference = new Argument<string>("model") { Description = "name:version of the release" };
        var containerize = new Command("containerize", "Build the release's container image (the scorer base plus the verified model), push it beside the release and name it in the signed targets metadata")
        {
            reference,
        };
        containerize.SetAction(async (parse, ct) =>
        {
            var text = parse.GetValue(reference)!;
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon == text.Length - 1)
            {
                throw new CliException($"'{text}' is not name:version; containerize names one release");
            }

            using var api = parse.CreateApi();
            Console.Error.WriteLine($"containerizing {text}: the server adds the model to each platform of its scorer base image and pushes what the registry lacks (the base layers once, about 80 MB each)");
            var image = await api.ContainerizeModelAsync(text[..colon], text[(colon + 1)..], ct).ConfigureAwait(false);
            if (parse.IsDocument())
            {
                Render.Document(parse.Format(), image, ContractsJsonContext.Default.ModelImageInfo);
                return 0;
            }

            foreach (var platform in image.Platforms)
            {
                Console.Error.WriteLine($"  {platform.Platform}: manifest {platform.ManifestDigest} (image id {platform.ConfigDigest})");
            }

            Console.Out.WriteLine($"{image.Name}:{image.Version} → {image.Repository}:{image.Version}@{image.IndexDigest} in {image.Registry}; the signed targets entry names it");
            return 0;
        });
        return containerize;
    }

    private static Command Inspect()
    {
        var reference = new Argument<string>("model") { Description = "name (newest version) or name:version" };
        var inspect = new Command("inspect", "Show a release's manifest and model card") { reference };
        inspect.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var model = await api.GetModelAsync(parse.GetValue(reference)!, ct).ConfigureAwait(false);
            var manifest = JsonSerializer.Deserialize(await api.GetManifestAsync(model.Repository, model.ManifestDigest, ct).ConfigureAwait(false), ContractsJsonContext.Default.OciManifest)
                ?? throw new CliException("the manifest is empty");
            var card = JsonSerializer.Deserialize(await api.GetBlobAsync(model.Repository, manifest.Config.Digest, ct).ConfigureAwait(false), ContractsJsonContext.Default.ModelCard)
                ?? throw new CliException("the model card is empty");
            if (parse.IsDocument())
            {
                Console.Out.WriteLine(Render.Serialize(parse.Format(), card, ContractsJsonContext.Default.ModelCard));
                return 0;
            }

            Console.Out.WriteLine($"{card.Name}:{card.Version} ({card.Task}) in {model.Repository}@{model.ManifestDigest}");
            Render.Table(["LAYER", "MEDIA TYPE", "DIGEST", "BYTES"], manifest.Layers.Prepend(manifest.Config).Select(l => (IReadOnlyList<string>)
            [
                l.Annotations?.GetValueOrDefault(OciManifest.TitleAnnotation) ?? "(config)", l.MediaType, l.Digest, Render.Number(l.Size),
            ]));
            Console.Out.WriteLine();
            Render.Table(["INPUT", "TYPE", "SHAPE", "EVENT FIELD"], card.Inputs.Select(i => (IReadOnlyList<string>)[i.Name, i.ElementType, $"[{string.Join(',', i.Shape)}]", i.Field]));
            Console.Out.WriteLine();
            Render.Table(["OUTPUT", "TYPE", "PREDICTION FIELD"], card.Outputs.Select(o => (IReadOnlyList<string>)[o.Name, o.ElementType, o.Field]));
            Console.Out.WriteLine();
            Render.Table(["METRIC", "VALUE"], card.Metrics.Select(m => (IReadOnlyList<string>)[m.Key, Render.Number(m.Value, "0.######")]));
            var lineage = card.Lineage;
            Console.Out.WriteLine($"lineage: run {lineage.TrainingRunId}, dataset {lineage.DatasetName} ({lineage.DatasetDigest}, {lineage.DatasetRows} rows), trainer {lineage.Trainer}, code {lineage.CodeVersion}");
            Console.Out.WriteLine($"parameters: {string.Join(", ", lineage.Parameters.Select(p => $"{p.Key}={p.Value}"))}");
            return 0;
        });
        return inspect;
    }

    private static async Task<bool> RunChecksAsync(ApiClient api, string reference, string channel, string? rootFile, List<CheckResult> results, CancellationToken ct)
    {
        var model = await api.GetModelAsync(reference, ct).ConfigureAwait(false);
        var trustDirectory = Directory.CreateTempSubdirectory("edgectl-verify-").FullName;
        try
        {
            var root = rootFile is null
                ? await api.GetBytesAsync("api/v1/trust/root/1", ct).ConfigureAwait(false)
                : await File.ReadAllBytesAsync(rootFile, ct).ConfigureAwait(false);
            var client = new TufClient(trustDirectory, new HttpTufRemote(api.Http, _ => ValueTask.FromResult(api.Server)), TimeProvider.System);

            TargetsMetadata targets;
            RootMetadata trusted;
            try
            {
                TufClient.Pin(trustDirectory, root);
                targets = await client.RefreshAsync(ct).ConfigureAwait(false);
                trusted = client.TrustedRoot();
                results.Add(new("metadata", true, $"root v{trusted.Version}, targets v{targets.Version}, fresh and signed by their thresholds{(rootFile is null ? " (root v1 trusted on first use)" : string.Empty)}"));
                var entry = TufClient.Authorize(targets, model.Name, model.Version, channel, model.ManifestDigest, model.ManifestSize);
                results.Add(new("approval", true, $"{model.Name}:{model.Version} approved for [{string.Join(", ", entry.Channels)}] as {entry.Digest}"));
            }
            catch (Exception ex) when (ex is TufVerificationException or TufFormatException)
            {
                results.Add(new(ex is TufVerificationException v ? v.Check : TufChecks.Metadata, false, (ex as TufVerificationException)?.Reason ?? ex.Message));
                return false;
            }

            var manifestBytes = await api.GetManifestAsync(model.Repository, model.ManifestDigest, ct).ConfigureAwait(false);
            var digest = ContentDigest.Compute(manifestBytes);
            if (digest != model.ManifestDigest || manifestBytes.Length != model.ManifestSize)
            {
                results.Add(new(VerificationChecks.ManifestDigest, false, $"the registry served {manifestBytes.Length} bytes hashing to {digest}"));
                return false;
            }

            results.Add(new(VerificationChecks.ManifestDigest, true, $"{manifestBytes.Length} bytes, {digest}"));
            var signers = TufEnvelopes.ValidCmsSigners(manifestBytes, Convert.FromBase64String(model.Signature), trusted, TufRoles.Targets).Count;
            var threshold = trusted.Roles[TufRoles.Targets].Threshold;
            results.Add(new(VerificationChecks.Signature, signers >= threshold, $"{signers} of {threshold} required targets signature(s)"));
            if (signers < threshold)
            {
                return false;
            }

            var manifest = JsonSerializer.Deserialize(manifestBytes, ContractsJsonContext.Default.OciManifest)!;
            foreach (var blob in manifest.Layers.Prepend(manifest.Config))
            {
                var bytes = await api.GetBlobAsync(model.Repository, blob.Digest, ct).ConfigureAwait(false);
                var actual = ContentDigest.Compute(bytes);
                var passed = bytes.Length == blob.Size && actual == blob.Digest;
                results.Add(new(bytes.Length == blob.Size ? VerificationChecks.LayerDigest : VerificationChecks.LayerSize, passed, $"{blob.MediaType}: {bytes.Length} bytes, {actual}"));
                if (!passed)
                {
                    return false;
                }
            }

            return true;
        }
        finally
        {
            Directory.Delete(trustDirectory, recursive: true);
        }
    }

    internal sealed record CheckResult(string Check, bool Passed, string Detail);

    internal sealed record VerifyReport(bool Verified, IReadOnlyList<CheckResult> Checks);
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[System.Text.Json.Serialization.JsonSerializable(typeof(ModelCommands.VerifyReport))]
internal sealed partial class ModelJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
