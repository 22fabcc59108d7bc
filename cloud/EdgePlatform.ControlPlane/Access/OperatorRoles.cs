namespace EdgePlatform.ControlPlane.Access;

/// <summary>
/// What each operator role may do. A viewer reads; a data scientist also trains and runs
/// experiments; an operator also deploys; only an admin manages trust, tokens and the audit log.
/// A worker only runs sweep trials.
/// </summary>
public static class OperatorRoles
{
    public const string Admin = "admin";
    public const string Operator = "operator";
    public const string DataScientist = "data-scientist";
    public const string Viewer = "viewer";

    /// <summary>A training worker: leases trials, heartbeats, reports results and reads the snapshots of running sweeps; nothing else.</summary>
    public const string Worker = "worker";

    public static IReadOnlyList<string> All { get; } = [Admin, Operator, DataScientist, Viewer, Worker];

    private static readonly Dictionary<string, HashSet<string>> Grants = new(StringComparer.Ordinal)
    {
        [Viewer] = [Permissions.Read],
        [DataScientist] = [Permissions.Read, Permissions.Train],
        [Operator] = [Permissions.Read, Permissions.Train, Permissions.Deploy],
        [Admin] = [Permissions.Read, Permissions.Train, Permissions.Deploy, Permissions.ManageTrust, Permissions.ManageAccess, Permissions.Work],
        [Worker] = [Permissions.Work],
    };

    public static bool Allows(string? role, string permission) =>
        role is not null && Grants.TryGetValue(role, out var granted) && granted.Contains(permission);
}

/// <summary>Permissions the API checks; each endpoint names one.</summary>
public static class Permissions
{
    public const string Read = "read";
    public const string Train = "train";
    public const string Deploy = "deploy";
    public const string ManageTrust = "manage-trust";
    public const string ManageAccess = "manage-access";

    /// <summary>Run sweep trials as a worker.</summary>
    public const string Work = "work";

    public static IReadOnlyList<string> All { get; } = [Read, Train, Deploy, ManageTrust, ManageAccess, Work];
}
