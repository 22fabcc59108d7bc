using System.CommandLine;
using EdgePlatform.Cli.Output;
using EdgePlatform.Contracts;

namespace EdgePlatform.Cli.Commands;

/// <summary><c>edgectl login</c>, <c>tokens create|list|revoke</c> and <c>audit</c>.</summary>
public static class AccessCommands
{
    public static Command Login()
    {
        var login = new Command("login", "Check a token against the server and save it for later commands (--token or $EDGECTL_TOKEN)");
        login.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var token = parse.GetValue(CliOptions.Token) ?? Environment.GetEnvironmentVariable("EDGECTL_TOKEN")
                ?? throw new CliException("give the token with --token or $EDGECTL_TOKEN");
            var who = await api.WhoAmIAsync(ct).ConfigureAwait(false);
            Credentials.Save(api.Server, token);
            Console.Out.WriteLine(parse.IsDocument()
                ? Render.Serialize(parse.Format(), who, ContractsJsonContext.Default.WhoAmI)
                : $"logged in to {api.Server} as {who.Name} ({who.Role}); token saved in {Credentials.FilePath}");
            return 0;
        });
        return login;
    }

    public static IReadOnlyList<Column<ApiTokenInfo>> TokenColumns { get; } =
    [
        new("ID", t => t.Id),
        new("NAME", t => t.Name),
        new("ROLE", t => t.Role),
        new("CREATED BY", t => t.CreatedBy) { WideOnly = true },
        new("CREATED", t => Render.Age(t.CreatedAt)) { WideValue = t => Render.Time(t.CreatedAt) },
        new("REVOKED", t => Render.Age(t.RevokedAt)) { WideValue = t => Render.Time(t.RevokedAt) },
    ];

    public static Command Tokens()
    {
        var name = new Option<string>("--name") { Description = "Whose token this is", Required = true };
        var role = new Option<string>("--role") { Description = "admin, operator, data-scientist or viewer", Required = true };
        var create = new Command("create", "Create a token for a person; the secret is shown once") { name, role };
        create.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var created = await api.CreateTokenAsync(new CreateTokenRequest(parse.GetValue(name), parse.GetValue(role)), ct).ConfigureAwait(false);
            Console.Out.WriteLine(parse.IsDocument()
                ? Render.Serialize(parse.Format(), created, ContractsJsonContext.Default.CreatedToken)
                : $"token {created.Info.Id} for {created.Info.Name} ({created.Info.Role}):\n{created.Token}\nIt is not shown again.");
            return 0;
        });

        var list = new Command("list", "List tokens (never their secrets)");
        list.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var tokens = await api.ListTokensAsync(ct).ConfigureAwait(false);
            return Render.List(parse, tokens, ContractsJsonContext.Default.IReadOnlyListApiTokenInfo, TokenColumns);
        });

        var id = new Argument<string>("id") { Description = "Token id (from tokens list)" };
        var revoke = new Command("revoke", "Revoke a token; it is refused from the next request on") { id };
        revoke.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            await api.RevokeTokenAsync(parse.GetValue(id)!, ct).ConfigureAwait(false);
            Console.Out.WriteLine($"token {parse.GetValue(id)} revoked");
            return 0;
        });

        return new Command("tokens", "Operator API tokens (admin)") { create, list, revoke };
    }

    // WHAT is free text of any length, so it comes last, where it can run past 80 columns without pushing the others.
    public static IReadOnlyList<Column<AuditEntry>> AuditColumns { get; } =
    [
        new("#", e => Render.Number(e.Sequence)),
        new("WHEN", e => Render.ShortTime(e.At)) { WideValue = e => Render.Time(e.At) },
        new("WHO", e => e.Actor),
        new("RESULT", e => Render.Number(e.Status)),
        new("WHAT", e => e.Action),
    ];

    public static Command Audit()
    {
        var limit = new Option<int>("--limit") { Description = "Entries to show, newest first (default 50)", DefaultValueFactory = _ => 50 };
        var audit = new Command("audit", "The append-only audit log: who changed what, when, with which result (admin)") { limit };
        audit.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var entries = await api.AuditAsync(parse.GetValue(limit), ct).ConfigureAwait(false);
            return Render.List(parse, entries, ContractsJsonContext.Default.IReadOnlyListAuditEntry, AuditColumns);
        });
        return audit;
    }

    public static IReadOnlyList<Column<EnrollmentGroupInfo>> EnrollmentColumns { get; } =
    [
        new("ID", g => g.Id),
        new("NAME", g => g.Name),
        new("CREATED", g => Render.Age(g.CreatedAt)) { WideValue = g => Render.Time(g.CreatedAt) },
        new("REVOKED", g => Render.Age(g.RevokedAt)) { WideValue = g => Render.Time(g.RevokedAt) },
    ];

    public static Command Enrollment()
    {
        var name = new Option<string>("--name") { Description = "What the group is for, e.g. a site or a production batch", Required = true };
        var create = new Command("create", "Create an enrollment group; its key is shown once") { name };
        create.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var group = await api.CreateEnrollmentGroupAsync(parse.GetValue(name)!, ct).ConfigureAwait(false);
            Console.Out.WriteLine(parse.IsDocument()
                ? Render.Serialize(parse.Format(), group, ContractsJsonContext.Default.EnrollmentGroupInfo)
                : $"enrollment group {group.Id} ({group.Name}), key:\n{group.Key}\nIt is not shown again. Give each device only its own key: edgectl enrollment derive --key <key> --device-id <id>");
            return 0;
        });

        var list = new Command("list", "List enrollment groups (never their keys)");
        list.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var groups = await api.ListEnrollmentGroupsAsync(ct).ConfigureAwait(false);
            return Render.List(parse, groups, ContractsJsonContext.Default.IReadOnlyListEnrollmentGroupInfo, EnrollmentColumns);
        });

        var id = new Argument<string>("id") { Description = "Enrollment group id" };
        var revoke = new Command("revoke", "Revoke a group: keys derived from it no longer enroll devices (enrolled devices stay)") { id };
        revoke.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            await api.RevokeEnrollmentGroupAsync(parse.GetValue(id)!, ct).ConfigureAwait(false);
            Console.Out.WriteLine($"enrollment group {parse.GetValue(id)} revoked");
            return 0;
        });

        var key = new Option<string>("--key") { Description = "The group key", Required = true };
        var deviceId = new Option<string>("--device-id") { Description = "The device id the key is for", Required = true };
        var derive = new Command("derive", "Compute a device's own enrollment key from the group key (offline)") { key, deviceId };
        derive.SetAction(parse =>
        {
            var device = parse.GetValue(deviceId)!;
            if (DeviceIds.Describe(device) is { } problem)
            {
                throw new CliException($"--device-id {problem}");
            }

            Console.Out.WriteLine(EdgePlatform.Security.EnrollmentKeys.Derive(parse.GetValue(key)!, device));
            return 0;
        });

        return new Command("enrollment", "Enrollment groups: devices enroll with keys derived from a group key (admin)") { create, list, revoke, derive };
    }
}
