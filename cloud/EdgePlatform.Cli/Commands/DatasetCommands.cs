using System.CommandLine;
using System.Text.Json;
using EdgePlatform.Cli.Output;
using EdgePlatform.Contracts;

namespace EdgePlatform.Cli.Commands;

/// <summary><c>edgectl dataset add|list|show|versions|clean</c>: dataset versions on the control plane.</summary>
public static class DatasetCommands
{
    private static readonly IReadOnlyList<Column<DatasetVersionInfo>> VersionColumns =
    [
        new("VERSION", v => v.Version.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("ROWS", v => v.Rows.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("COLUMNS", v => v.Columns.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("SOURCE", v => v.Source.Kind),
        new("PARENT", v => v.ParentVersion?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"),
        new("DIGEST", v => Render.ShortDigest(v.SnapshotDigest)) { WideValue = v => v.SnapshotDigest },
        new("CREATED", v => Render.Age(v.CreatedAt)) { WideValue = v => Render.Time(v.CreatedAt) },
        new("BY", v => v.CreatedBy) { WideOnly = true },
        new("DESCRIPTION", v => v.Source.Description) { WideOnly = true },
    ];

    public static Command Create() => new("dataset", "Register dataset versions from files, server paths, SQL queries or blobs, profile and cleanse them")
    {
        Add(),
        DatasetProfileCommand.Create(),
        List(),
        Show(),
        Versions(),
        Clean(),
    };

    private static Command Add()
    {
        var name = new Argument<string>("name") { Description = "Dataset name" };
        var file = new Argument<string?>("file") { Description = "A local data file to upload (any size and format; sent in resumable chunks)", Arity = ArgumentArity.ZeroOrOne };
        var path = new Option<string>("--path") { Description = "Instead of a file: a path the server reads itself (under its Datasets:AllowedPaths)" };
        var connection = new Option<string>("--connection") { Description = "A named connection (POST /api/v1/datasets/connections) to query or read a blob through" };
        var query = new Option<string>("--query") { Description = "With --connection: the SQL query whose result is the dataset" };
        var container = new Option<string>("--container") { Description = "With --connection: the blob container" };
        var blob = new Option<string>("--blob") { Description = "With --connection: the blob name" };
        var label = new Option<string>("--label") { Description = "The column training predicts (default: label)" };
        var format = new Option<string>("--format") { Description = "csv, tsv, parquet, arrowfile, arrowstream, arff or jsonlines (default: from the file extension)" };
        var resume = new Option<string>("--resume") { Description = "Go on with an earlier upload of the same file (its upload id)" };
        var command = new Command("add", "Register a new version of a dataset") { name, file, path, connection, query, container, blob, label, format, resume };
        command.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var source = await SourceAsync(api, parse.GetValue(file), parse.GetValue(path), parse.GetValue(connection), parse.GetValue(query), parse.GetValue(container), parse.GetValue(blob), parse.GetValue(format), parse.GetValue(resume), !parse.IsDocument(), ct).ConfigureAwait(false);
            var version = await api.RegisterDatasetVersionAsync(parse.GetValue(name)!, new RegisterDatasetRequest(source, parse.GetValue(label)), ct).ConfigureAwait(false);
            Show(parse, version);
            return 0;
        });
        return command;
    }

    private static async Task<DatasetSourceRequest> SourceAsync(
        ApiClient api, string? file, string? path, string? connection, string? query, string? container, string? blob, string? format, string? resume, bool progress, CancellationToken ct)
    {
        var given = new[] { file is not null, path is not null, connection is not null }.Count(g => g);
        if (given != 1)
        {
            throw new CliException("give one source: a FILE to upload, --path on the server, or --connection with --query (SQL) or --container and --blob");
        }

        if (path is not null)
        {
            return new DatasetSourceRequest(DatasetSourceKinds.Path, Path: path, Format: format);
        }

        if (connection is not null)
        {
            return query is not null
                ? new DatasetSourceRequest(DatasetSourceKinds.Sql, Connection: connection, Query: query, Format: format)
                : container is not null && blob is not null
                    ? new DatasetSourceRequest(DatasetSourceKinds.Blob, Connection: connection, Container: container, Blob: blob, Format: format)
                    : throw new CliException("--connection needs --query, or --container and --blob");
        }

        if (!File.Exists(file))
        {
            throw new CliException($"{file}: no such file");
        }

        var upload = resume is null ? await api.StartDatasetUploadAsync(ct).ConfigureAwait(false) : await api.GetDatasetUploadAsync(resume, ct).ConfigureAwait(false);
        var total = new FileInfo(file!).Length;
        if (progress)
        {
            Console.Error.WriteLine($"uploading {file} ({Size(total)}) as upload {upload.Id}; if it stops, go on with --resume {upload.Id}");
        }

        await api.UploadDatasetFileAsync(upload.Id, file!, progress ? new UploadProgress(total) : null, ct).ConfigureAwait(false);
        if (progress)
        {
            Console.Error.WriteLine("uploaded; the server is checking and storing it");
        }

        return new DatasetSourceRequest(DatasetSourceKinds.Upload, UploadId: upload.Id, FileName: Path.GetFileName(file), Format: format);
    }

    private static Command List()
    {
        var command = new Command("list", "Datasets with versions, and their latest version");
        command.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            return Render.List(parse, await api.ListDatasetCatalogAsync(ct).ConfigureAwait(false), ContractsJsonContext.Default.IReadOnlyListDatasetSummary,
            [
                new("NAME", s => s.Name),
                new("VERSIONS", s => s.Versions.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                new("LATEST", s => s.Latest.Version.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                new("ROWS", s => s.Latest.Rows.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                new("SOURCE", s => s.Latest.Source.Kind),
                new("DIGEST", s => Render.ShortDigest(s.Latest.SnapshotDigest)) { WideValue = s => s.Latest.SnapshotDigest },
            ]);
        });
        return command;
    }

    private static Command Show()
    {
        var reference = new Argument<string>("dataset") { Description = "NAME (latest version) or NAME@VERSION" };
        var command = new Command("show", "One version: source, columns, rows, digest and, when cleansed, its parent and rules") { reference };
        command.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var (name, version) = Split(parse.GetValue(reference)!);
            Show(parse, await api.GetDatasetVersionAsync(name, version, ct).ConfigureAwait(false));
            return 0;
        });
        return command;
    }

    private static Command Versions()
    {
        var name = new Argument<string>("name") { Description = "Dataset name" };
        var command = new Command("versions", "Every version of a dataset, oldest first") { name };
        command.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            return Render.List(parse, await api.ListDatasetVersionsAsync(parse.GetValue(name)!, ct).ConfigureAwait(false), ContractsJsonContext.Default.IReadOnlyListDatasetVersionInfo, VersionColumns);
        });
        return command;
    }

    private static Command Clean()
    {
        var reference = new Argument<string>("dataset") { Description = "NAME (latest version) or NAME@VERSION to cleanse" };
        var rules = new Option<string>("--rules") { Description = "A JSON file: {\"rules\": [{\"op\": \"fill-missing\", \"columns\": [\"x\"], \"strategy\": \"median\"}, ...]}", Required = true };
        var command = new Command("clean", "Apply cleansing rules to a version, giving a new version whose parent it is") { reference, rules };
        command.SetAction(async (parse, ct) =>
        {
            var file = parse.GetValue(rules)!;
            CleansingRules parsed;
            try
            {
                parsed = JsonSerializer.Deserialize(await File.ReadAllTextAsync(file, ct).ConfigureAwait(false), ContractsJsonContext.Default.CleansingRules)
                    ?? throw new CliException($"{file}: empty");
            }
            catch (Exception ex) when (ex is JsonException or IOException)
            {
                throw new CliException($"{file}: {ex.Message}", ex);
            }

            using var api = parse.CreateApi();
            var (name, version) = Split(parse.GetValue(reference)!);
            Show(parse, await api.CleanDatasetAsync(name, version, new CleanDatasetRequest(parsed), ct).ConfigureAwait(false));
            return 0;
        });
        return command;
    }

    private static void Show(ParseResult parse, DatasetVersionInfo version)
    {
        if (parse.IsDocument())
        {
            Render.Document(parse.Format(), version, ContractsJsonContext.Default.DatasetVersionInfo);
            return;
        }

        Console.Out.WriteLine($"dataset {version.Name}@{version.Version}: {version.Rows} rows, {version.Columns.Count} columns, {version.Format}, {Size(version.SizeBytes)}");
        Console.Out.WriteLine($"snapshot: {version.SnapshotDigest}");
        Console.Out.WriteLine($"source: {version.Source.Kind}: {version.Source.Description}");
        Console.Out.WriteLine($"created: {Render.Time(version.CreatedAt)} by {version.CreatedBy}");
        if (version.ParentVersion is { } parent)
        {
            Console.Out.WriteLine($"parent: {version.Name}@{parent}, {version.Rules?.Rules.Count ?? 0} rules: {string.Join(", ", version.Rules?.Rules.Select(r => r.Op) ?? [])}");
        }

        if (version.Label is { } label)
        {
            Console.Out.WriteLine($"label: {label}");
        }

        Render.Table(["COLUMN", "KIND"], version.Columns.Select(c => (IReadOnlyList<string>)[c.Name, c.Kind]));
    }

    private static (string Name, string Version) Split(string reference)
    {
        var at = reference.IndexOf('@', StringComparison.Ordinal);
        return at < 0 ? (reference, "latest") : (reference[..at], reference[(at + 1)..]);
    }

    internal static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.0} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.0} KiB",
        _ => $"{bytes} B",
    };

    /// <summary>Reports on the uploading thread (not posted, as <see cref="Progress{T}"/> would), at most once a second and at the end.</summary>
    private sealed class UploadProgress(long total) : IProgress<long>
    {
        private DateTimeOffset _last = DateTimeOffset.MinValue;

        public void Report(long value)
        {
            var now = DateTimeOffset.UtcNow;
            if (now - _last >= TimeSpan.FromSeconds(1) || value == total)
            {
                _last = now;
                Console.Error.WriteLine($"  {Size(value)} of {Size(total)} ({(total == 0 ? 100 : value * 100 / total)}%)");
            }
        }
    }
}
