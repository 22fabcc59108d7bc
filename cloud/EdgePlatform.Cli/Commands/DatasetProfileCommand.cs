using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using EdgePlatform.Cli.Output;
using EdgePlatform.Contracts;
using EdgePlatform.Training;
using EdgePlatform.Training.Data;

namespace EdgePlatform.Cli.Commands;

/// <summary>
/// <c>edgectl dataset profile FILE</c>: profiles a file on this machine in one streaming pass (any
/// format the readers know) and prints the columns, the label's class balance and the warnings.
/// </summary>
public static class DatasetProfileCommand
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(500);

    public static IReadOnlyList<Column<ColumnProfile>> Columns { get; } =
    [
        new("COLUMN", c => c.Name),
        new("KIND", c => c.Kind),
        new("MISSING", c => c.Missing == 0 ? "0" : Render.Number(c.MissingFraction, "0.#%")),
        new("DISTINCT", c => Approximate(c.DistinctExact) + c.Distinct.ToString("N0", CultureInfo.InvariantCulture)),
        new("MIN", c => Figure(c.Min)),
        new("MEAN", c => Figure(c.Mean)),
        new("SD", c => Figure(c.StdDev)),
        new("P50", c => Figure(Quantile(c, 0.5))),
        new("MAX", c => Figure(c.Max)),
        new("TOP", c => c.Mean is null && c.TopValues.Count > 0 ? $"{c.TopValues[0].Value} ({Share(c.TopValues[0].Count, c.Count)})" : string.Empty),
        new("P1", c => Figure(Quantile(c, 0.01))) { WideOnly = true },
        new("P5", c => Figure(Quantile(c, 0.05))) { WideOnly = true },
        new("P25", c => Figure(Quantile(c, 0.25))) { WideOnly = true },
        new("P75", c => Figure(Quantile(c, 0.75))) { WideOnly = true },
        new("P95", c => Figure(Quantile(c, 0.95))) { WideOnly = true },
        new("P99", c => Figure(Quantile(c, 0.99))) { WideOnly = true },
        new("OUTLIERS", c => c.Outliers is { } o ? "~" + o.ToString("N0", CultureInfo.InvariantCulture) : string.Empty) { WideOnly = true },
    ];

    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "A local dataset file (.csv .tsv .parquet .arrow .arrows .arff .jsonl, optionally .gz), or a registered version NAME@N (NAME@latest) profiled by the server" };
        var label = new Option<string?>("--label") { Description = "The label column: its class balance is reported and imbalance warned about" };
        var format = new Option<string?>("--format")
        {
            Description = $"The file's format when the name does not say: {string.Join(", ", FormatNames)}",
        };
        format.CompletionSources.Add([.. FormatNames]);
        var ranges = new Option<string[]>("--range")
        {
            Description = "A column's expected range, as COLUMN=MIN:MAX (either end may be empty); values outside are counted. Repeatable",
            AllowMultipleArgumentsPerToken = false,
        };
        var profile = new Command("profile", "Profile a local dataset file or a registered version in one pass: per-column statistics, duplicates, correlations and warnings with suggested actions")
        {
            file, label, format, ranges,
        };
        profile.SetAction(async (parse, ct) =>
        {
            var path = parse.GetValue(file)!;
            DatasetProfile result;
            if (!File.Exists(path) && path.Split('@') is [{ Length: > 0 } name, { Length: > 0 } version])
            {
                using var api = parse.CreateApi();
                result = await api.GetDatasetProfileAsync(name, version, ct).ConfigureAwait(false);
            }
            else
            {
                var options = new DatasetProfileOptions
                {
                    LabelColumn = parse.GetValue(label),
                    DeclaredRanges = ParseRanges(parse.GetValue(ranges) ?? []),
                };
                var readOptions = new TabularReadOptions { Format = ParseFormat(parse.GetValue(format)) };
                result = Run(path, readOptions, options, ct);
            }

            var output = parse.Format();
            if (output.IsDocument())
            {
                Render.Document(output, result, ContractsJsonContext.Default.DatasetProfile);
            }
            else
            {
                Write(result, output);
            }

            return 0;
        });
        return profile;
    }

    private static IEnumerable<string> FormatNames => Enum.GetNames<TabularFormat>().Select(n => n.ToLowerInvariant());

    private static DatasetProfile Run(string path, TabularReadOptions readOptions, DatasetProfileOptions options, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            throw new CliException($"{path}: no such file");
        }

        // Rows read, on stderr and only on a terminal, so pipes and -o json see the report alone.
        var progress = Console.IsErrorRedirected ? null : new TerminalProgress();
        try
        {
            using var reader = TabularFormats.Open(path, readOptions);
            return DatasetProfiler.Profile(reader, path, options, progress, cancellationToken);
        }
        catch (DatasetFormatException ex)
        {
            throw new CliException(ex.Message, ex);
        }
        catch (ArgumentException ex)
        {
            throw new CliException($"{path}: {ex.Message}", ex);
        }
        finally
        {
            progress?.Clear();
        }
    }

    private static void Write(DatasetProfile profile, OutputFormat format)
    {
        var duplicates = profile.DuplicateRows == 0
            ? "no duplicate rows"
            : $"{Approximate(profile.DuplicateRowsExact)}{profile.DuplicateRows:N0} duplicate rows";
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{profile.Source}: {profile.Rows:N0} rows, {profile.Columns.Count} columns, {duplicates}"));
        Console.Out.WriteLine();
        Render.Rows(format, Columns, profile.Columns);
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"~: estimated; quantiles within ±{profile.QuantileRankError:0.##%} of rank"));

        if (profile.Label is { } label)
        {
            Console.Out.WriteLine();
            Console.Out.WriteLine($"label {label.Column}{(label.ClassesExact ? string.Empty : " (most frequent values only: too many to be classes)")}");
            Render.Table(["CLASS", "ROWS", "SHARE"], label.Classes.Select(c => (IReadOnlyList<string>)
                [c.Value, c.Count.ToString("N0", CultureInfo.InvariantCulture), Render.Number(c.Fraction, "0.##%")]));
        }

        Console.Out.WriteLine();
        if (profile.Warnings.Count == 0)
        {
            Console.Out.WriteLine("no warnings");
            return;
        }

        Console.Out.WriteLine($"warnings ({profile.Warnings.Count})");
        foreach (var warning in profile.Warnings)
        {
            var column = warning.Column is null ? string.Empty : $" {warning.Column}:";
            Console.Out.WriteLine($"  {warning.Kind}{column} {warning.Message}");
            Console.Out.WriteLine($"      → {warning.Action}");
        }
    }

    public static Dictionary<string, DeclaredRange> ParseRanges(IEnumerable<string> values)
    {
        var ranges = new Dictionary<string, DeclaredRange>(StringComparer.Ordinal);
        foreach (var value in values)
        {
            var equals = value.LastIndexOf('=');
            var colon = equals < 0 ? -1 : value.IndexOf(':', equals);
            if (equals <= 0 || colon < 0)
            {
                throw new CliException($"--range: '{value}' is not COLUMN=MIN:MAX (for example temperature=-40:85, or speed=0: for no upper bound)");
            }

            ranges[value[..equals]] = new DeclaredRange(Bound(value, value[(equals + 1)..colon]), Bound(value, value[(colon + 1)..]));
        }

        return ranges;
    }

    private static double? Bound(string range, string text) =>
        text.Length == 0 ? null
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var bound) && double.IsFinite(bound) ? bound
        : throw new CliException($"--range: '{text}' in '{range}' is not a number");

    private static TabularFormat? ParseFormat(string? name) =>
        name is null ? null
        : Enum.TryParse<TabularFormat>(name, ignoreCase: true, out var format) && Enum.IsDefined(format) ? format
        : throw new CliException($"--format: '{name}' is not a format; use one of {string.Join(", ", FormatNames)}");

    private static double? Quantile(ColumnProfile column, double probability) =>
        column.Quantiles?.FirstOrDefault(q => q.Probability == probability)?.Value;

    private static string Figure(double? value) => value is { } v ? v.ToString("G5", CultureInfo.InvariantCulture) : string.Empty;

    private static string Approximate(bool exact) => exact ? string.Empty : "~";

    private static string Share(long count, long of) => of == 0 ? "-" : Render.Number((double)count / of, "0.#%");

    private sealed class TerminalProgress : IProgress<long>
    {
        private readonly Stopwatch _sinceShown = Stopwatch.StartNew();
        private bool _shown;

        public void Report(long value)
        {
            if (_sinceShown.Elapsed < ProgressInterval)
            {
                return;
            }

            _sinceShown.Restart();
            _shown = true;
            Console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"\rprofiling: {value:N0} rows read"));
        }

        public void Clear()
        {
            if (_shown)
            {
                Console.Error.Write("\r\u001b[K");
            }
        }
    }
}
