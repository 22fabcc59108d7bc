using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>Where the control plane keeps its state.</summary>
public sealed class StoreOptions
{
    public const string Section = "Store";

    /// <summary>
    /// <c>sqlite</c> (default): one file, <c>edgeplatform.db</c> in the data directory, for one machine.
    /// <c>postgres</c>: the PostgreSQL database in <see cref="ConnectionString"/>, which any number
    /// of control-plane replicas share.
    /// </summary>
    [RegularExpression("^(sqlite|postgres)$", ErrorMessage = "Store:Provider must be 'sqlite' or 'postgres'")]
    public string Provider { get; set; } = "sqlite";

    /// <summary>
    /// Npgsql connection string for <c>postgres</c>, e.g.
    /// <c>Host=db.internal;Port=5432;Database=edgeplatform;Username=edgeplatform;SSL Mode=VerifyFull</c>;
    /// the password comes from the environment (<c>Store__ConnectionString</c>) or a PGPASSFILE, never this file.
    /// </summary>
    public string? ConnectionString { get; set; }

    public StoreDatabase OpenDatabase(string dataDirectory) => Provider switch
    {
        "postgres" => new PostgresDatabase(ConnectionString is { Length: > 0 } connection
            ? connection
            : throw new InvalidOperationException("Store:ConnectionString is required when Store:Provider is 'postgres'")),
        _ => new SqliteDatabase(System.IO.Path.Combine(dataDirectory, "edgeplatform.db")),
    };
}
