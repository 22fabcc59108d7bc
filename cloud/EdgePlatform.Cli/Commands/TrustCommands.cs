using System.CommandLine;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.Cli.Commands;

/// <summary>
/// Offline key and root management on files: root keys never need to touch the server.
/// <c>key create</c> makes a signing key; <c>root init</c> writes root version 1; <c>root rotate</c>
/// writes the next version; <c>root sign</c> adds a key holder's signature; <c>root push</c>
/// hands a fully signed root to the server, which accepts it only if it verifies.
/// </summary>
public static class TrustCommands
{
    /// <summary><c>edgectl attestation measure DIR</c>: the measurement of an agent build, for <c>Attestation:AllowedAgentBuilds</c>.</summary>
    public static Command Attestation()
    {
        var directory = new Argument<string>("directory") { Description = "Directory of an agent build (where EdgePlatform.Agent.dll is)" };
        var measure = new Command("measure", "Print the agent-build measurement that attestation compares against the allowed builds") { directory };
        measure.SetAction(parse =>
        {
            var path = parse.GetValue(directory)!;
            string digest;
            try
            {
                digest = EdgePlatform.Security.Attestation.AgentMeasurements.MeasureBuild(path);
            }
            catch (IOException ex)
            {
                throw new CliException(ex.Message);
            }

            Console.Out.WriteLine(parse.IsDocument()
                ? Render.Serialize(parse.Format(), new Dictionary<string, string> { ["directory"] = Path.GetFullPath(path), ["agentBuild"] = digest }, CliJsonContext.Default.DictionaryStringString)
                : digest);
            return 0;
        });
        return new Command("attestation", "Device attestation policy helpers") { measure };
    }

    public static Command Key()
    {
        var output = new Option<string>("--out") { Description = "Key file to write (certificate and private key, mode 0600)", Required = true };
        var name = new Option<string>("--name") { Description = "A name for the key (its certificate's subject)", DefaultValueFactory = _ => "EdgePlatform key" };
        var publicOut = new Option<string>("--public-out") { Description = "Also write the public certificate alone here" };
        var create = new Command("create", "Create an ECDSA P-256 metadata signing key") { output, name, publicOut };
        create.SetAction(parse =>
        {
            var path = parse.GetValue(output)!;
            if (File.Exists(path))
            {
                throw new CliException($"{path} already exists; refusing to overwrite a key");
            }

            using var key = TufSigningKey.Create(parse.GetValue(name)!, DateTimeOffset.UtcNow);
            WritePrivate(path, key.ExportPem());
            if (parse.GetValue(publicOut) is { } publicPath)
            {
                File.WriteAllText(publicPath, key.ExportPublicPem());
            }

            Console.Out.WriteLine(parse.IsDocument() ? Render.Serialize(parse.Format(), new Dictionary<string, string> { ["keyId"] = key.KeyId, ["file"] = path }, CliJsonContext.Default.DictionaryStringString) : $"key {key.KeyId} written to {path}");
            return 0;
        });
        return new Command("key", "Metadata signing keys") { create };
    }

    public static Command Root()
    {
        return new Command("root", "Root metadata: the keys and thresholds of every role, rotated by a signed chain")
        {
            Init(), Rotate(), Sign(), Push(),
        };
    }

    private static Command Init()
    {
        var roles = new RoleOptions();
        var signWith = new Option<string[]>("--sign-with") { Description = "Root key file(s) (with private key) to sign with", AllowMultipleArgumentsPerToken = true, Required = true };
        var output = new Option<string>("--out") { Description = "Where to write root version 1", Required = true };
        var init = new Command("init", "Write root version 1 for the given keys, signed by the root keys");
        roles.AddTo(init);
        init.Options.Add(signWith);
        init.Options.Add(output);
        init.SetAction(parse =>
        {
            var root = roles.Build(parse, version: 1);
            var envelope = SignWith(TufEnvelopes.Create(root, TufJsonContext.Default.RootMetadata, [], DateTimeOffset.UtcNow), parse.GetValue(signWith)!);
            Report(parse, envelope, root, root, parse.GetValue(output)!);
            return 0;
        });
        return init;
    }

    private static Command Rotate()
    {
        var roles = new RoleOptions();
        var current = new Option<string>("--current") { Description = "The newest root file in force", Required = true };
        var signWith = new Option<string[]>("--sign-with") { Description = "Key file(s) to sign with: the old root's and the new root's keys", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out") { Description = "Where to write the next root version", Required = true };
        var rotate = new Command("rotate", "Write the next root version with new keys; it needs the old root threshold's signatures and its own");
        roles.AddTo(rotate);
        rotate.Options.Add(current);
        rotate.Options.Add(signWith);
        rotate.Options.Add(output);
        rotate.SetAction(parse =>
        {
            var (_, previous) = ReadRoot(parse.GetValue(current)!);
            var next = roles.Build(parse, previous.Version + 1);
            var envelope = SignWith(TufEnvelopes.Create(next, TufJsonContext.Default.RootMetadata, [], DateTimeOffset.UtcNow), parse.GetValue(signWith) ?? []);
            Report(parse, envelope, previous, next, parse.GetValue(output)!);
            return 0;
        });
        return rotate;
    }

    private static Command Sign()
    {
        var file = new Argument<string>("root") { Description = "Root file to add signatures to (rewritten in place)" };
        var keys = new Option<string[]>("--key") { Description = "Key file(s) to sign with", AllowMultipleArgumentsPerToken = true, Required = true };
        var previousRoot = new Option<string>("--previous") { Description = "The root this one replaces, to report whether its threshold is met" };
        var sign = new Command("sign", "Add signatures to a root file (each key holder signs on their own machine)") { file, keys, previousRoot };
        sign.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            var (envelope, root) = ReadRoot(path);
            envelope = SignWith(envelope, parse.GetValue(keys)!);
            var previous = parse.GetValue(previousRoot) is { } p ? ReadRoot(p).Root : root;
            Report(parse, envelope, previous, root, path);
            return 0;
        });
        return sign;
    }

    private static Command Push()
    {
        var file = new Argument<string>("root") { Description = "Signed root file to install on the server" };
        var push = new Command("push", "Install the next root version on the control plane (it verifies the chain)") { file };
        push.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var path = parse.GetValue(file)!;
            var (_, root) = ReadRoot(path);
            await api.PutAsync("api/v1/trust/root", await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false), ct).ConfigureAwait(false);
            Console.Out.WriteLine(parse.IsDocument()
                ? Render.Serialize(parse.Format(), new Dictionary<string, string> { ["version"] = root.Version.ToString(System.Globalization.CultureInfo.InvariantCulture) }, CliJsonContext.Default.DictionaryStringString)
                : $"root version {root.Version} installed");
            return 0;
        });
        return push;
    }

    internal static (SignedEnvelope Envelope, RootMetadata Root) ReadRoot(string path)
    {
        if (!File.Exists(path))
        {
            throw new CliException($"root file {path} does not exist");
        }

        try
        {
            var envelope = TufEnvelopes.Parse(File.ReadAllBytes(path));
            return (envelope, TufEnvelopes.Read(envelope, TufJsonContext.Default.RootMetadata, TufRoles.Root));
        }
        catch (TufFormatException ex)
        {
            throw new CliException($"{path}: {ex.Message}", ex);
        }
    }

    private static SignedEnvelope SignWith(SignedEnvelope envelope, IEnumerable<string> keyFiles)
    {
        var keys = keyFiles.Select(LoadKey).ToList();
        try
        {
            return TufEnvelopes.AddSignatures(envelope, keys, DateTimeOffset.UtcNow);
        }
        finally
        {
            keys.ForEach(k => k.Dispose());
        }
    }

    private static TufSigningKey LoadKey(string path)
    {
        if (!File.Exists(path))
        {
            throw new CliException($"key file {path} does not exist");
        }

        try
        {
            return TufSigningKey.FromPem(File.ReadAllText(path));
        }
        catch (TufFormatException ex)
        {
            throw new CliException($"{path}: {ex.Message}", ex);
        }
    }

    /// <summary>Writes the root and says, per threshold, whether it is met yet.</summary>
    private static void Report(ParseResult parse, SignedEnvelope envelope, RootMetadata previous, RootMetadata root, string path)
    {
        File.WriteAllBytes(path, TufEnvelopes.Serialize(envelope));
        var own = TufEnvelopes.ValidRoleSigners(envelope, root, TufRoles.Root).Count;
        var old = TufEnvelopes.ValidRoleSigners(envelope, previous, TufRoles.Root).Count;
        var ownThreshold = root.Roles[TufRoles.Root].Threshold;
        var oldThreshold = previous.Roles[TufRoles.Root].Threshold;
        var complete = own >= ownThreshold && old >= oldThreshold;
        if (parse.IsDocument())
        {
            Console.Out.WriteLine(Render.Serialize(
                parse.Format(),
                new Dictionary<string, string>
                {
                    ["file"] = path,
                    ["version"] = root.Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["complete"] = complete ? "true" : "false",
                },
                CliJsonContext.Default.DictionaryStringString));
            return;
        }

        Console.Out.WriteLine($"root version {root.Version} written to {path}");
        Console.Out.WriteLine($"  signatures by its own root keys: {own} of {ownThreshold} required");
        if (root.Version > 1)
        {
            Console.Out.WriteLine($"  signatures by version {previous.Version}'s root keys: {old} of {oldThreshold} required");
        }

        Console.Out.WriteLine(complete ? "  complete: devices will accept it" : "  not complete yet: collect more signatures with 'edgectl root sign'");
    }

    private static void WritePrivate(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
        using var writer = new StreamWriter(new FileStream(path, options));
        writer.Write(content);
    }

    /// <summary>The keys and thresholds of each role, as options shared by init and rotate.</summary>
    private sealed class RoleOptions
    {
        private readonly Dictionary<string, (Option<string[]> Keys, Option<int> Threshold)> _roles = TufRoles.All.ToDictionary(
            role => role,
            role => (
                new Option<string[]>($"--{role}-key") { Description = $"Key or certificate file(s) of the {role} role", AllowMultipleArgumentsPerToken = true, Required = true },
                new Option<int>($"--{role}-threshold") { Description = $"Signatures the {role} role needs (default 1)", DefaultValueFactory = _ => 1 }),
            StringComparer.Ordinal);

        private readonly Option<int> _expiresDays = new("--expires-days") { Description = "Days until this root expires (default 365)", DefaultValueFactory = _ => 365 };

        public void AddTo(Command command)
        {
            foreach (var (keys, threshold) in _roles.Values)
            {
                command.Options.Add(keys);
                command.Options.Add(threshold);
            }

            command.Options.Add(_expiresDays);
        }

        public RootMetadata Build(ParseResult parse, long version)
        {
            var keys = new Dictionary<string, TufKey>(StringComparer.Ordinal);
            var roles = new Dictionary<string, RoleKeys>(StringComparer.Ordinal);
            foreach (var (role, (keyOption, thresholdOption)) in _roles)
            {
                var ids = new List<string>();
                foreach (var file in parse.GetValue(keyOption)!)
                {
                    if (!File.Exists(file))
                    {
                        throw new CliException($"key file {file} does not exist");
                    }

                    var (keyId, key) = TufKeys.PublicFromPem(File.ReadAllText(file));
                    keys[keyId] = key;
                    ids.Add(keyId);
                }

                var distinct = ids.Distinct(StringComparer.Ordinal).ToList();
                var threshold = parse.GetValue(thresholdOption);
                if (threshold < 1 || threshold > distinct.Count)
                {
                    throw new CliException($"--{role}-threshold {threshold} must be between 1 and the {distinct.Count} distinct {role} key(s) given");
                }

                roles[role] = new RoleKeys(distinct, threshold);
            }

            var days = parse.GetValue(_expiresDays);
            if (days is < 1 or > 3650)
            {
                throw new CliException("--expires-days must be between 1 and 3650");
            }

            return new RootMetadata(TufRoles.Root, version, DateTimeOffset.UtcNow.AddDays(days), keys, roles);
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class CliJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
