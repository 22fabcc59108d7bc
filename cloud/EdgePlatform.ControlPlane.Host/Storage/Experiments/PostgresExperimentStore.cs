namespace EdgePlatform.ControlPlane.Host.Storage.Experiments;

/// <summary>Experiments on PostgreSQL: a list parameter is sent as one array.</summary>
public sealed class PostgresExperimentStore(StoreDatabase database) : ExperimentStore(database)
{
    protected override string AnyOf(string column, string parameter) => $"{column} = ANY({parameter})";
}
