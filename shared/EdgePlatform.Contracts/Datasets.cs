namespace EdgePlatform.Contracts;

/// <summary>
/// One immutable snapshot of a dataset: its content (<see cref="SnapshotDigest"/> in the artifact
/// store), where it came from, its columns and rows, and for a cleansed version the version it
/// was cleansed from and the rules applied.
/// </summary>
public sealed record DatasetVersionInfo(
    string Name,
    int Version,
    string SnapshotDigest,
    long SizeBytes,
    DatasetSourceInfo Source,
    string Format,
    IReadOnlyList<DatasetColumnInfo> Columns,
    long Rows,
    string? Label,
    string CreatedBy,
    DateTimeOffset CreatedAt,
    int? ParentVersion = null,
    CleansingRules? Rules = null);

/// <summary>Where a version came from: the source kind and a description that never holds a secret.</summary>
public sealed record DatasetSourceInfo(string Kind, string Description);

/// <summary>A column of a snapshot and its kind (numeric, categorical, boolean, text, datetime).</summary>
public sealed record DatasetColumnInfo(string Name, string Kind);

/// <summary>
/// <c>POST /api/v1/datasets/{name}/versions</c>: registers a new version from a source. The
/// label names the column training predicts (default <c>label</c>).
/// </summary>
public sealed record RegisterDatasetRequest(DatasetSourceRequest? Source, string? Label = null);

/// <summary>
/// A source by kind: <c>upload</c> (<see cref="UploadId"/> of a finished upload session),
/// <c>path</c> (<see cref="Path"/> under an allowed root), <c>sql</c> (<see cref="Connection"/>
/// and <see cref="Query"/>) or <c>blob</c> (<see cref="Connection"/>, <see cref="Container"/>
/// and <see cref="Blob"/>). <see cref="Format"/> overrides the format named by the file's extension.
/// </summary>
public sealed record DatasetSourceRequest(
    string? Kind,
    string? UploadId = null,
    string? FileName = null,
    string? Path = null,
    string? Connection = null,
    string? Query = null,
    string? Container = null,
    string? Blob = null,
    string? Format = null);

public static class DatasetSourceKinds
{
    public const string Upload = "upload";
    public const string Path = "path";
    public const string Sql = "sql";
    public const string Blob = "blob";

    public static readonly IReadOnlyList<string> All = [Upload, Path, Sql, Blob];
}

/// <summary>
/// <c>POST /api/v1/datasets/connections</c>: a named connection to a database (<c>postgresql</c>,
/// <c>sqlite</c>) or to Azure Blob Storage (<c>azure-blob</c>). The connection string is kept
/// encrypted and never returned.
/// </summary>
public sealed record DatasetConnectionRequest(string? Name, string? Kind, string? ConnectionString);

/// <summary>A stored connection as every answer shows it: no connection string, only where it points.</summary>
public sealed record DatasetConnectionInfo(string Name, string Kind, string Host, DateTimeOffset CreatedAt);

public static class DatasetConnectionKinds
{
    public const string PostgreSql = "postgresql";
    public const string Sqlite = "sqlite";
    public const string AzureBlob = "azure-blob";

    public static readonly IReadOnlyList<string> All = [PostgreSql, Sqlite, AzureBlob];
}

/// <summary>An upload session: its id and how many bytes the server holds (where the next chunk starts).</summary>
public sealed record DatasetUploadInfo(string Id, long Offset);

/// <summary>A dataset name with its version count and its latest version.</summary>
public sealed record DatasetSummary(string Name, int Versions, DatasetVersionInfo Latest);

/// <summary><c>POST /api/v1/datasets/{name}/versions/{version}/clean</c>: rules applied in order to the version.</summary>
public sealed record CleanDatasetRequest(CleansingRules? Rules);

/// <summary>Cleansing rules, applied in order; the same rules on the same version give the same snapshot.</summary>
public sealed record CleansingRules(IReadOnlyList<CleansingRule> Rules);

/// <summary>
/// One rule. <see cref="Op"/> is one of:
/// <c>drop-missing</c> (rows with a missing value in <see cref="Columns"/>, or any column when none),
/// <c>fill-missing</c> (<see cref="Strategy"/> mean, median, mode or constant with <see cref="Value"/>),
/// <c>clip-outliers</c> / <c>drop-outliers</c> (<see cref="Method"/> iqr with <see cref="Factor"/>, default 1.5, or bounds with <see cref="Min"/>/<see cref="Max"/>),
/// <c>drop-duplicates</c> (rows equal on <see cref="Columns"/>, or on every column; the first is kept),
/// <c>filter-range</c> (keep rows whose value lies within <see cref="Min"/>..<see cref="Max"/>),
/// <c>cast</c> (to <see cref="Kind"/>: numeric, categorical, text; a value that does not convert becomes missing),
/// <c>drop-columns</c>.
/// </summary>
public sealed record CleansingRule(
    string Op,
    IReadOnlyList<string>? Columns = null,
    string? Strategy = null,
    string? Value = null,
    string? Method = null,
    double? Factor = null,
    double? Min = null,
    double? Max = null,
    string? Kind = null);
