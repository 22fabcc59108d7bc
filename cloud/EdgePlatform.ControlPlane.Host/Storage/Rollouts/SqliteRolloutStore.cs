namespace EdgePlatform.ControlPlane.Host.Storage.Rollouts;

/// <summary>Rollouts on SQLite: Dapper expands a list parameter into IN.</summary>
public sealed class SqliteRolloutStore(StoreDatabase database) : RolloutStore(database)
{
    protected override string AnyOf(string column, string parameter) => $"{column} IN {parameter}";
}
