using System.Globalization;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Training;
using EdgePlatform.Training.Data;
using EdgePlatform.Training.Data.Snapshots;

namespace EdgePlatform.ControlPlane.Host.Datasets;

/// <summary>
/// Registers dataset versions: the source's data is staged in a file, read through once to
/// learn its columns and rows (and to refuse a bad file with its line and column), stored in the
/// artifact store by digest, and only then recorded as the next version. A failure at any step
/// leaves no version and no staged file.
/// </summary>
public sealed partial class DatasetCatalog(
    IDatasetStore store,
    IArtifactStore artifacts,
    DatasetUploads uploads,
    DatasetSources sources,
    ConnectionSecrets secrets,
    DatasetStaging staging,
    TimeProvider timeProvider,
    ILogger<DatasetCatalog> logger) : IDatasetResolver
{
    public const string DefaultLabel = "label";

    /// <summary>Profiles kept, by snapshot digest and label: the same bytes always profile the same.</summary>
    private const int MaxKeptProfiles = 256;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DatasetProfile> _profiles = new(StringComparer.Ordinal);

    public async Task<DatasetVersionInfo> RegisterAsync(string name, RegisterDatasetRequest? request, string createdBy, CancellationToken cancellationToken)
    {
        CheckName(name);
        var source = request?.Source ?? throw new RequestValidationException("source", $"name the source: {{\"kind\": one of {string.Join(", ", DatasetSourceKinds.All)}, ...}}");
        var kind = source.Kind?.Trim().ToLowerInvariant();
        var staged = staging.NewFile();
        try
        {
            string description;
            string? fileName;
            switch (kind)
            {
                case DatasetSourceKinds.Upload:
                    var uploaded = uploads.Find(Required("source.uploadId", source.UploadId))
                        ?? throw new NotFoundException($"upload session '{source.UploadId}' does not exist (finished, cancelled or never started)");
                    File.Move(uploaded, staged);
                    fileName = source.FileName;
                    description = $"upload {(string.IsNullOrWhiteSpace(fileName) ? source.UploadId : Path.GetFileName(fileName))}";
                    break;
                case DatasetSourceKinds.Path:
                    var path = Required("source.path", source.Path);
                    await sources.CopyPathAsync(path, staged, cancellationToken).ConfigureAwait(false);
                    fileName = path;
                    description = $"path {path}";
                    break;
                case DatasetSourceKinds.Sql:
                    var sqlConnection = await ConnectionAsync(source.Connection, cancellationToken).ConfigureAwait(false);
                    var query = Required("source.query", source.Query);
                    await sources.QueryAsync(sqlConnection, query, staged, cancellationToken).ConfigureAwait(false);
                    fileName = "query.csv";
                    // The query is the user's own text; the connection is named, never spelled out.
                    description = $"sql on {sqlConnection.Name} ({sqlConnection.Kind} {sqlConnection.Host})";
                    break;
                case DatasetSourceKinds.Blob:
                    var blobConnection = await ConnectionAsync(source.Connection, cancellationToken).ConfigureAwait(false);
                    var container = Required("source.container", source.Container);
                    var blob = Required("source.blob", source.Blob);
                    await sources.DownloadBlobAsync(blobConnection, container, blob, staged, cancellationToken).ConfigureAwait(false);
                    fileName = blob;
                    description = $"blob {container}/{blob} on {blobConnection.Name} ({blobConnection.Host})";
                    break;
                default:
                    throw new RequestValidationException("source.kind", $"use one of: {string.Join(", ", DatasetSourceKinds.All)}");
            }

            var format = SnapshotFormats.Resolve(source.Format, fileName);
            var (schema, rows) = Inspect(staged, format, fileName ?? name);
            var label = string.IsNullOrWhiteSpace(request.Label) ? null : request.Label.Trim();
            if (label is not null && schema.IndexOf(label) < 0)
            {
                throw new RequestValidationException("label", $"column '{label}' is not in the data ({string.Join(", ", schema.Columns.Select(c => c.Name))})");
            }

            return await StoreAsync(
                new DatasetVersionInfo(name, 0, string.Empty, 0, new DatasetSourceInfo(kind, description), format, Describe(schema), rows, label, createdBy, timeProvider.GetUtcNow()),
                staged,
                cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(staged);
        }
    }

    /// <summary>Applies cleansing rules to a version and records the result as the next version, its parent named.</summary>
    public async Task<DatasetVersionInfo> CleanAsync(string name, string version, CleanDatasetRequest? request, string createdBy, CancellationToken cancellationToken)
    {
        var parent = await GetAsync(name, version, cancellationToken).ConfigureAwait(false);
        var rules = request?.Rules ?? throw new RequestValidationException("rules", "give the cleansing rules: {\"rules\": {\"rules\": [{\"op\": ...}]}}");
        var parentFile = staging.NewFile();
        var staged = staging.NewFile();
        try
        {
            var blob = await artifacts.OpenReadAsync(parent.SnapshotDigest, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"snapshot {parent.SnapshotDigest} of {name}@{parent.Version} is missing from the artifact store");
            await using (blob.ConfigureAwait(false))
            {
                var copy = new FileStream(parentFile, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true);
                await using (copy.ConfigureAwait(false))
                {
                    await blob.CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
                }
            }

            var source = $"{name}@{parent.Version}";
            ITabularReader Open() => SnapshotFormats.Open(parent.Format, File.OpenRead(parentFile), source);
            DatasetCleanser cleanser;
            using (var reader = Open())
            {
                cleanser = Wrap(() => DatasetCleanser.Create(reader.Schema, rules), "rules");
            }

            long rows;
            var output = new FileStream(staged, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920);
            await using (output.ConfigureAwait(false))
            {
                rows = await Task.Run(() => Wrap(() => cleanser.Apply(Open, output, cancellationToken), "rules"), cancellationToken).ConfigureAwait(false);
            }

            var label = parent.Label is not null && cleanser.OutputSchema.IndexOf(parent.Label) >= 0 ? parent.Label : null;
            return await StoreAsync(
                new DatasetVersionInfo(
                    name, 0, string.Empty, 0, new DatasetSourceInfo("cleansing", $"rules applied to {source}"), SnapshotFormats.Csv,
                    Describe(cleanser.OutputSchema), rows, label, createdBy, timeProvider.GetUtcNow(), parent.Version, rules),
                staged,
                cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(parentFile);
            File.Delete(staged);
        }
    }

    public async Task<DatasetVersionInfo> GetAsync(string name, string version, CancellationToken cancellationToken)
    {
        int? number = null;
        if (!string.Equals(version, "latest", StringComparison.OrdinalIgnoreCase))
        {
            number = int.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
                ? n
                : throw new RequestValidationException("version", $"'{version}' is not a version number or 'latest'");
        }

        return await store.GetDatasetVersionAsync(name, number, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException(number is null ? $"dataset '{name}' has no versions" : $"dataset '{name}' has no version {number}");
    }

    /// <summary>
    /// A version's profile (<see cref="DatasetProfiler"/>): its snapshot streamed once with bounded
    /// memory, in its own format, with its label's class balance.
    /// </summary>
    public async Task<DatasetProfile> ProfileAsync(string name, string version, CancellationToken cancellationToken)
    {
        var found = await GetAsync(name, version, cancellationToken).ConfigureAwait(false);
        var key = $"{found.SnapshotDigest}\n{found.Label}";
        if (_profiles.TryGetValue(key, out var kept))
        {
            return kept with { Source = $"{name}@{found.Version}" };
        }

        var snapshot = await artifacts.OpenReadAsync(found.SnapshotDigest, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"snapshot {found.SnapshotDigest} of {name}@{found.Version} is missing from the artifact store");
        await using (snapshot.ConfigureAwait(false))
        {
            var source = $"{name}@{found.Version}";
            var profile = await Task.Run(
                () =>
                {
                    using var reader = SnapshotFormats.Open(found.Format, snapshot, source);
                    return DatasetProfiler.Profile(reader, source, new DatasetProfileOptions { LabelColumn = found.Label }, progress: null, cancellationToken);
                },
                cancellationToken).ConfigureAwait(false);
            if (_profiles.Count >= MaxKeptProfiles)
            {
                _profiles.Clear();
            }

            return _profiles.GetOrAdd(key, profile);
        }
    }

    public async Task<IReadOnlyList<DatasetVersionInfo>> ListVersionsAsync(string name, CancellationToken cancellationToken)
    {
        var versions = await store.ListDatasetVersionsAsync(name, cancellationToken).ConfigureAwait(false);
        return versions.Count > 0 ? versions : throw new NotFoundException($"dataset '{name}' has no versions");
    }

    public Task<IReadOnlyList<DatasetSummary>> ListAsync(CancellationToken cancellationToken) => store.ListDatasetSummariesAsync(cancellationToken);

    public async Task<DatasetConnectionInfo> AddConnectionAsync(DatasetConnectionRequest? request, CancellationToken cancellationToken)
    {
        var name = Required("name", request?.Name);
        CheckName(name, "name");
        var kind = Required("kind", request?.Kind).ToLowerInvariant();
        if (!DatasetConnectionKinds.All.Contains(kind, StringComparer.Ordinal))
        {
            throw new RequestValidationException("kind", $"use one of: {string.Join(", ", DatasetConnectionKinds.All)}");
        }

        var connectionString = Required("connectionString", request?.ConnectionString);
        var record = new DatasetConnectionRecord(name, kind, sources.DescribeHost(kind, connectionString), secrets.Seal(connectionString), timeProvider.GetUtcNow());
        if (!await store.AddDatasetConnectionAsync(record, cancellationToken).ConfigureAwait(false))
        {
            throw new ConflictException($"connection '{name}' exists already");
        }

        LogConnectionAdded(name, kind, record.Host);
        return record.ToInfo();
    }

    public async Task<IReadOnlyList<DatasetConnectionInfo>> ListConnectionsAsync(CancellationToken cancellationToken) =>
        [.. (await store.ListDatasetConnectionsAsync(cancellationToken).ConfigureAwait(false)).Select(c => c.ToInfo())];

    private static readonly string[] TrainableByDefault = [ColumnKind.Numeric.Name(), ColumnKind.Boolean.Name(), ColumnKind.Categorical.Name()];

    public async Task<DatasetInfo?> ResolveAsync(string reference, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var at = reference.IndexOf('@', StringComparison.Ordinal);
        var name = at < 0 ? reference : reference[..at];
        var versionText = at < 0 ? "latest" : reference[(at + 1)..];
        DatasetVersionInfo version;
        try
        {
            version = await GetAsync(name, versionText, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return null;
        }

        var label = version.Label ?? DefaultLabel;
        if (!version.Columns.Any(c => c.Name == label))
        {
            throw new RequestValidationException("dataset", $"{name}@{version.Version} has no label column '{label}'; register it with \"label\" naming the column to predict");
        }

        // Text needs an encoding chosen by the user and a date-time is rarely a feature as is: neither is one by default.
        var features = version.Columns.Where(c => c.Name != label && TrainableByDefault.Contains(c.Kind)).ToList();
        return new DatasetInfo(
            $"{name}@{version.Version}", version.SnapshotDigest, (int)Math.Min(version.Rows, int.MaxValue), [.. features.Select(c => c.Name)], label, version.CreatedAt,
            version.Format, features.ToDictionary(c => c.Name, c => c.Kind, StringComparer.Ordinal));
    }

    private async Task<DatasetVersionInfo> StoreAsync(DatasetVersionInfo version, string staged, CancellationToken cancellationToken)
    {
        var content = new FileStream(staged, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true);
        (string Digest, long Size) stored;
        await using (content.ConfigureAwait(false))
        {
            stored = await artifacts.PutAsync(content, cancellationToken).ConfigureAwait(false);
        }

        var added = await store.AddDatasetVersionAsync(version with { SnapshotDigest = stored.Digest, SizeBytes = stored.Size }, cancellationToken).ConfigureAwait(false);
        LogRegistered(added.Name, added.Version, added.Source.Kind, added.Rows, added.SnapshotDigest);
        return added;
    }

    private static (DataSchema Schema, long Rows) Inspect(string staged, string format, string source)
    {
        return Wrap(
            () =>
            {
                using var reader = SnapshotFormats.Open(format, File.OpenRead(staged), Path.GetFileName(source));
                long rows = 0;
                while (reader.ReadBatch() is { } batch)
                {
                    rows += batch.RowCount;
                }

                return rows == 0
                    ? throw new DatasetFormatException($"{Path.GetFileName(source)}: no rows after the header")
                    : (reader.Schema, rows);
            },
            "source");
    }

    private static T Wrap<T>(Func<T> read, string field)
    {
        try
        {
            return read();
        }
        catch (DatasetFormatException ex)
        {
            throw new RequestValidationException(field, ex.Message);
        }
    }

    private static List<DatasetColumnInfo> Describe(DataSchema schema) => [.. schema.Columns.Select(c => new DatasetColumnInfo(c.Name, c.Kind.Name()))];

    private async Task<DatasetConnectionRecord> ConnectionAsync(string? name, CancellationToken cancellationToken) =>
        await store.GetDatasetConnectionAsync(Required("source.connection", name), cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"connection '{name}' does not exist (POST /api/v1/datasets/connections adds one)");

    private static string Required(string field, string? value) =>
        string.IsNullOrWhiteSpace(value) ? throw new RequestValidationException(field, "is required") : value.Trim();

    private static void CheckName(string name, string field = "name")
    {
        if (ModelNames.Describe(name) is { } problem)
        {
            throw new RequestValidationException(field, problem);
        }
    }

    [LoggerMessage(EventId = 520, Level = LogLevel.Information, Message = "Dataset {Name} version {Version} registered from {SourceKind}: {Rows} rows, {Digest}")]
    private partial void LogRegistered(string name, int version, string sourceKind, long rows, string digest);

    [LoggerMessage(EventId = 521, Level = LogLevel.Information, Message = "Dataset connection {Name} ({Kind}, {Host}) added")]
    private partial void LogConnectionAdded(string name, string kind, string host);
}

/// <summary>Where registrations stage their data before it is stored: a directory of the server's own.</summary>
public sealed class DatasetStaging
{
    private readonly string _directory;

    public DatasetStaging(string directory)
    {
        _directory = directory;
        Directory.CreateDirectory(directory);

        // Staged files are never needed past the registration that made them; a crash may have left some.
        foreach (var leftover in Directory.EnumerateFiles(directory))
        {
            File.Delete(leftover);
        }
    }

    public string NewFile() => Path.Combine(_directory, Guid.NewGuid().ToString("N"));
}

/// <summary>The formats a snapshot can be read in (every format of <see cref="TabularFormats"/>), by name or file extension; cleansed versions are CSV.</summary>
public static class SnapshotFormats
{
    public const string Csv = "csv";

    public static string Resolve(string? format, string? fileName)
    {
        if (!string.IsNullOrWhiteSpace(format))
        {
            return Parse(format) is { } named
                ? Name(named)
                : throw new RequestValidationException("source.format", $"unknown format '{format}'; use one of: {string.Join(", ", Enum.GetValues<TabularFormat>().Select(Name))}");
        }

        return TabularFormats.FormatFromName(fileName ?? string.Empty) is { } fromName ? Name(fromName) : Csv;
    }

    public static ITabularReader Open(string format, Stream stream, string source) =>
        TabularFormats.Open(stream, source, new TabularReadOptions { Format = Parse(format) ?? TabularFormat.Csv });

    private static string Name(TabularFormat format) => format.ToString().ToLowerInvariant();

    private static TabularFormat? Parse(string name) =>
        Enum.TryParse<TabularFormat>(name.Trim().Replace("-", string.Empty, StringComparison.Ordinal), ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) ? parsed : null;
}
