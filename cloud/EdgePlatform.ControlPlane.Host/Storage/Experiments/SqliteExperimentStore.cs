namespace EdgePlatform.ControlPlane.Host.Storage.Experiments;

/// <summary>Experiments on SQLite: Dapper expands a list parameter into IN.</summary>
public sealed class SqliteExperimentStore(StoreDatabase database) : ExperimentStore(database)
{
    protected override string AnyOf(string column, string parameter) => $"{column} IN {parameter}";
}
