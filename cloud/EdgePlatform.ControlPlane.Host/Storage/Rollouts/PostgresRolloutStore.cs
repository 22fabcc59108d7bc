namespace EdgePlatform.ControlPlane.Host.Storage.Rollouts;

/// <summary>Rollouts on PostgreSQL: a list parameter is sent as one array.</summary>
public sealed class PostgresRolloutStore(StoreDatabase database) : RolloutStore(database)
{
    protected override string AnyOf(string column, string parameter) => $"{column} = ANY({parameter})";
}
