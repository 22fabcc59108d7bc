using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.Training.Data;

/// <summary>
/// How <see cref="TabularFormats"/> reads a dataset. Every default suits a plain UTF-8 CSV with
/// a header row; options a format has no use for are ignored by it (a Parquet file has no
/// delimiter).
/// </summary>
public sealed class TabularReadOptions
{
    /// <summary>The values that mean "missing" in text formats (CSV, TSV, JSON lines strings), matched exactly.</summary>
    public static IReadOnlyList<string> DefaultMissingTokens { get; } = ["", "NA", "NaN", "?", "null"];

    /// <summary>The format; null detects it from the file name (.csv .tsv .parquet .arrow .arrows .ipc .arff .jsonl .ndjson, each optionally .gz) and then from the first bytes (PAR1, ARROW1, gzip).</summary>
    public TabularFormat? Format { get; set; }

    /// <summary>The field delimiter of CSV; null means ',' for CSV and a tab for TSV.</summary>
    public char? Delimiter { get; set; }

    /// <summary>The decimal separator of numbers in CSV and TSV: '.' (default) or ','. With ',' the delimiter must be something else, usually ';'.</summary>
    public char DecimalSeparator { get; set; } = '.';

    /// <summary>Values that mean "missing" in text formats. ARFF always uses '?'.</summary>
    public IReadOnlyList<string> MissingTokens { get; set; } = DefaultMissingTokens;

    /// <summary>How many leading rows schema inference looks at (1 to 1,000,000; default 1,000).</summary>
    [Range(1, 1_000_000)]
    public int InferenceRows { get; set; } = 1_000;

    /// <summary>Rows per <see cref="DataBatch"/> (1 to 1,048,576; default 4,096).</summary>
    [Range(1, 1 << 20)]
    public int BatchSize { get; set; } = 4_096;

    /// <summary>A string column is categorical when its sample has at most this many distinct values (default 50)...</summary>
    [Range(1, int.MaxValue)]
    public int CategoricalMaxDistinct { get; set; } = 50;

    /// <summary>...and at most this fraction of the sample's non-missing values are distinct (default 0.5); otherwise it is text.</summary>
    [Range(0.0, 1.0)]
    public double CategoricalMaxDistinctFraction { get; set; } = 0.5;

    /// <summary>Column kinds by column name that replace what inference or the file's types say; <see cref="ColumnKind.Ignore"/> drops the column.</summary>
    public IReadOnlyDictionary<string, ColumnKind> Overrides { get; set; } = new Dictionary<string, ColumnKind>(StringComparer.Ordinal);

    /// <summary>The name used in error messages when reading a stream; <see cref="TabularFormats.Open(string, TabularReadOptions?)"/> sets it to the path.</summary>
    internal string SourceName { get; set; } = "dataset";

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        if (DecimalSeparator is not ('.' or ','))
        {
            throw new ArgumentException($"DecimalSeparator must be '.' or ',', not '{DecimalSeparator}'.", nameof(DecimalSeparator));
        }

        if (Delimiter is { } delimiter && (delimiter == '"' || delimiter == '\n' || delimiter == '\r' || delimiter > 0x7F))
        {
            throw new ArgumentException($"Delimiter must be an ASCII character other than a quote or a line break, not '{delimiter}'.", nameof(Delimiter));
        }

        ArgumentNullException.ThrowIfNull(MissingTokens);
        ArgumentNullException.ThrowIfNull(Overrides);
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(this, new ValidationContext(this), results, validateAllProperties: true))
        {
            throw new ArgumentException(string.Join(" ", results.Select(r => r.ErrorMessage)));
        }
    }

    internal TabularReadOptions WithSource(string sourceName)
    {
        var copy = (TabularReadOptions)MemberwiseClone();
        copy.SourceName = sourceName;
        return copy;
    }
}
