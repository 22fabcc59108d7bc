using System.Globalization;
using System.Text;
using EdgePlatform.Contracts;

namespace EdgePlatform.Training;

/// <summary>
/// A labelled table of numeric features parsed from CSV: a header line, then one row per line,
/// fields separated by commas (double quotes allowed around a field). Only the named feature
/// columns and the label column are read; other columns (timestamps, ids) are ignored.
/// </summary>
public sealed class TabularDataset
{
    /// <summary>Below this many rows a 20% hold-out leaves too few examples to measure anything.</summary>
    public const int MinimumRows = 50;

    private readonly float[][] _features;
    private readonly bool[] _labels;
    private readonly int[] _lineNumbers;

    private TabularDataset(string labelColumn, IReadOnlyList<string> featureColumns, float[][] features, bool[] labels, int[] lineNumbers, string digest)
    {
        LabelColumn = labelColumn;
        FeatureColumns = featureColumns;
        _features = features;
        _labels = labels;
        _lineNumbers = lineNumbers;
        Digest = digest;
        PositiveCount = labels.Count(l => l);
    }

    public string LabelColumn { get; }

    public IReadOnlyList<string> FeatureColumns { get; }

    public int RowCount => _labels.Length;

    public int PositiveCount { get; }

    /// <summary><see cref="ContentDigest"/> of the raw bytes, so lineage names the exact file trained on.</summary>
    public string Digest { get; }

    public static TabularDataset Load(Stream csv, string labelColumn, IReadOnlyList<string> featureColumns)
    {
        ArgumentNullException.ThrowIfNull(csv);
        using var buffer = new MemoryStream();
        csv.CopyTo(buffer);
        return Parse(buffer.ToArray(), labelColumn, featureColumns);
    }

    public static async Task<TabularDataset> LoadAsync(Stream csv, string labelColumn, IReadOnlyList<string> featureColumns, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(csv);
        using var buffer = new MemoryStream();
        await csv.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Parse(buffer.ToArray(), labelColumn, featureColumns);
    }

    public static TabularDataset Parse(byte[] csv, string labelColumn, IReadOnlyList<string> featureColumns)
    {
        ArgumentNullException.ThrowIfNull(csv);
        ArgumentException.ThrowIfNullOrWhiteSpace(labelColumn);
        ArgumentNullException.ThrowIfNull(featureColumns);
        if (featureColumns.Count == 0)
        {
            throw new ArgumentException("At least one feature column is needed.", nameof(featureColumns));
        }

        if (featureColumns.Distinct(StringComparer.Ordinal).Count() != featureColumns.Count)
        {
            throw new ArgumentException($"Feature columns are listed more than once: {string.Join(", ", featureColumns)}.", nameof(featureColumns));
        }

        if (featureColumns.Contains(labelColumn, StringComparer.Ordinal))
        {
            throw new ArgumentException($"The label column '{labelColumn}' cannot also be a feature.", nameof(featureColumns));
        }

        using var reader = new StreamReader(new MemoryStream(csv, writable: false), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        var lineNumber = 0;
        string? line;
        do
        {
            line = reader.ReadLine();
            lineNumber++;
        }
        while (line is not null && string.IsNullOrWhiteSpace(line));

        if (line is null)
        {
            throw new DatasetFormatException("The dataset is empty: expected a header line naming the columns, then one row per line.");
        }

        var header = SplitFields(line, lineNumber).Select(h => h.Trim()).ToArray();
        var labelIndex = ColumnIndex(header, labelColumn, "Label");
        var featureIndexes = featureColumns.Select(f => ColumnIndex(header, f, "Feature")).ToArray();

        var features = featureColumns.Select(_ => new List<float>()).ToArray();
        var labels = new List<bool>();
        var lineNumbers = new List<int>();
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var fields = SplitFields(line, lineNumber);
            if (fields.Count != header.Length)
            {
                throw new DatasetFormatException(
                    $"Line {lineNumber} has {fields.Count} fields but the header has {header.Length}.", lineNumber, null);
            }

            for (var f = 0; f < featureIndexes.Length; f++)
            {
                features[f].Add(ParseFeature(fields[featureIndexes[f]], featureColumns[f], lineNumber));
            }

            labels.Add(ParseLabel(fields[labelIndex], labelColumn, lineNumber));
            lineNumbers.Add(lineNumber);
        }

        if (labels.Count < MinimumRows)
        {
            throw new DatasetFormatException(
                $"The dataset has {labels.Count} rows; training needs at least {MinimumRows} so that the held-out split can be evaluated.");
        }

        var positives = labels.Count(l => l);
        if (positives == 0 || positives == labels.Count)
        {
            throw new DatasetFormatException(
                $"Every one of the {labels.Count} rows has {labelColumn} = {(positives == 0 ? "false" : "true")}; a binary classifier needs examples of both classes.",
                null,
                labelColumn);
        }

        return new TabularDataset(
            labelColumn,
            [.. featureColumns],
            [.. features.Select(f => f.ToArray())],
            [.. labels],
            [.. lineNumbers],
            ContentDigest.Compute(csv));
    }

    public bool GetLabel(int row) => _labels[row];

    /// <summary>The 1-based CSV line the row came from, for messages a user can act on.</summary>
    public int GetLineNumber(int row) => _lineNumbers[row];

    public IReadOnlyDictionary<string, float> GetFeatures(int row)
    {
        var values = new Dictionary<string, float>(FeatureColumns.Count, StringComparer.Ordinal);
        for (var f = 0; f < FeatureColumns.Count; f++)
        {
            values[FeatureColumns[f]] = _features[f][row];
        }

        return values;
    }

    /// <summary>
    /// Mean, population standard deviation, minimum, maximum and decile edges of each feature over
    /// every row: the training-time distribution that drift on the device is measured against.
    /// </summary>
    public IReadOnlyList<FeatureBaseline> Profile()
    {
        var baselines = new FeatureBaseline[FeatureColumns.Count];
        for (var f = 0; f < FeatureColumns.Count; f++)
        {
            // Welford's update keeps the variance accurate for large, offset values such as rpm.
            double mean = 0, sumOfSquares = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
            var values = _features[f];
            for (var i = 0; i < values.Length; i++)
            {
                double value = values[i];
                var delta = value - mean;
                mean += delta / (i + 1);
                sumOfSquares += delta * (value - mean);
                min = Math.Min(min, value);
                max = Math.Max(max, value);
            }

            baselines[f] = new FeatureBaseline(FeatureColumns[f], mean, Math.Sqrt(sumOfSquares / values.Length), min, max, DecileEdges(values));
        }

        return baselines;
    }

    /// <summary>
    /// The nine values that cut the data into tenths, by nearest rank: the k-th is the smallest value
    /// with at least k tenths of the data at or below it, matching the device's right-closed drift bins.
    /// </summary>
    private static double[] DecileEdges(float[] values)
    {
        if (values.Length == 0)
        {
            return [];
        }

        var sorted = (float[])values.Clone();
        Array.Sort(sorted);
        var edges = new double[QualityRecord.DriftBins - 1];
        for (var k = 1; k <= edges.Length; k++)
        {
            var rank = (int)Math.Ceiling(k * (double)sorted.Length / QualityRecord.DriftBins);
            edges[k - 1] = sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
        }

        return edges;
    }

    internal float[] FeatureValues(int featureIndex) => _features[featureIndex];

    internal int IndexOfFeature(string column)
    {
        for (var f = 0; f < FeatureColumns.Count; f++)
        {
            if (string.Equals(FeatureColumns[f], column, StringComparison.Ordinal))
            {
                return f;
            }
        }

        throw new ArgumentException($"'{column}' is not a feature of this dataset; its features are: {string.Join(", ", FeatureColumns)}.", nameof(column));
    }

    private static int ColumnIndex(string[] header, string column, string role)
    {
        var index = Array.IndexOf(header, column);
        return index >= 0
            ? index
            : throw new DatasetFormatException(
                $"{role} column '{column}' is not in the header; the columns are: {string.Join(", ", header)}.", 1, column);
    }

    private static float ParseFeature(string field, string column, int lineNumber)
    {
        if (!double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
        {
            throw new DatasetFormatException(
                $"Line {lineNumber}, column '{column}': '{field}' is not a finite number (use '.' as the decimal separator).", lineNumber, column);
        }

        // Checked against float, not double: a value that overflows float would reach the model as infinity.
        var single = (float)value;
        return float.IsFinite(single)
            ? single
            : throw new DatasetFormatException(
                $"Line {lineNumber}, column '{column}': '{field}' is outside the range of a 32-bit float.", lineNumber, column);
    }

    private static bool ParseLabel(string field, string column, int lineNumber)
    {
        var value = field.Trim();
        if (value == "1" || value.Equals("true", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (value == "0" || value.Equals("false", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        throw new DatasetFormatException(
            $"Line {lineNumber}, column '{column}': '{field}' is not a label; use true/false or 1/0.", lineNumber, column);
    }

    private static List<string> SplitFields(string line, int lineNumber)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c != '"')
                {
                    field.Append(c);
                }
                else if (i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else
                {
                    quoted = false;
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }

        if (quoted)
        {
            throw new DatasetFormatException(
                $"Line {lineNumber} has an unterminated quoted field; fields cannot span lines.", lineNumber, null);
        }

        fields.Add(field.ToString());
        return fields;
    }
}
