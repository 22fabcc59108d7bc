using System.Globalization;
using System.Text;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Data;

namespace EdgePlatform.Training;

/// <summary>
/// A labelled table of features: numeric ones parsed from CSV (a header line, then one row per
/// line, fields separated by commas, double quotes allowed around a field; only the named feature
/// columns and the label column are read), or columns of any kind streamed from an
/// <see cref="ITabularReader"/> (<see cref="FromReader"/>), where categorical and text columns
/// stay strings so that the exported graph takes them as string inputs.
/// </summary>
public sealed class TabularDataset
{
    /// <summary>Below this many rows a 20% hold-out leaves too few examples to measure anything.</summary>
    public const int MinimumRows = 50;

    // Per feature column, exactly one of the two holds its values: numbers (NaN is missing) or strings (null is missing).
    private readonly float[]?[] _features;
    private readonly string?[]?[] _strings;
    private readonly bool[] _labels;
    private readonly int[] _lineNumbers;

    private TabularDataset(
        string labelColumn, IReadOnlyList<string> featureColumns, IReadOnlyList<ColumnKind> kinds, float[]?[] features, string?[]?[] strings, bool[] labels, int[] lineNumbers, string digest)
    {
        LabelColumn = labelColumn;
        FeatureColumns = featureColumns;
        FeatureKinds = kinds;
        _features = features;
        _strings = strings;
        _labels = labels;
        _lineNumbers = lineNumbers;
        Digest = digest;
        PositiveCount = labels.Count(l => l);
    }

    /// <summary>What the label is read as: one of <see cref="ModelTasks.All"/>; a CSV parsed with <see cref="Parse"/> is always binary.</summary>
    public string Task { get; private init; } = ModelTasks.BinaryClassification;

    /// <summary>A multiclass label's class names, in the order class indexes (and a model's probabilities) follow; null for other tasks.</summary>
    public IReadOnlyList<string>? Classes { get; private init; }

    // Per row, the label as its task reads it: the binary flag is in _labels, a class index or a number here.
    private int[]? ClassIndexes { get; init; }

    private float[]? Targets { get; init; }

    /// <summary>The kind of each of <see cref="FeatureColumns"/>; all numeric for a dataset parsed from CSV.</summary>
    public IReadOnlyList<ColumnKind> FeatureKinds { get; }

    /// <summary>What the label's true value stands for when the label was read from a two-valued column (a class name); null for true/false and 1/0 labels.</summary>
    public string? PositiveClass { get; private init; }

    public string LabelColumn { get; }

    public IReadOnlyList<string> FeatureColumns { get; }

    public int RowCount => _lineNumbers.Length;

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
            [.. featureColumns.Select(_ => ColumnKind.Numeric)],
            [.. features.Select(f => f.ToArray())],
            new string?[]?[featureColumns.Count],
            [.. labels],
            [.. lineNumbers],
            ContentDigest.Compute(csv));
    }

    /// <summary>
    /// Reads every batch of <paramref name="reader"/> into memory. Numeric, boolean and date-time
    /// columns become numbers (missing is NaN); categorical and text columns stay strings (missing
    /// is null). The label may be boolean, numeric 0/1, or a column with exactly two values, the
    /// <paramref name="positiveClass"/> one (by default the second a categorical column declares,
    /// else the second in ordinal order) being true.
    /// </summary>
    /// <param name="reader">The source, read to its end.</param>
    /// <param name="labelColumn">The column to predict.</param>
    /// <param name="digest">The <see cref="ContentDigest"/> of the source file, recorded in lineage.</param>
    /// <param name="featureColumns">The feature columns; null takes every column of the schema but the label.</param>
    /// <param name="positiveClass">The label value that is true; null for the default described above.</param>
    /// <param name="source">The file name, for messages.</param>
    /// <param name="cancellationToken">Observed between batches.</param>
    /// <exception cref="DatasetFormatException">The label is missing on a row or has other than two values, or there are too few rows.</exception>
    public static TabularDataset FromReader(
        ITabularReader reader, string labelColumn, string digest, IReadOnlyList<string>? featureColumns = null, string? positiveClass = null, string? source = null, CancellationToken cancellationToken = default) =>
        ReadForTask(reader, labelColumn, digest, ModelTasks.BinaryClassification, featureColumns, positiveClass, source, cancellationToken);

    /// <summary>
    /// Reads every batch of <paramref name="reader"/> as <see cref="FromReader"/>
    /// does, with the label read for <paramref name="task"/>: two classes for binary, class names for
    /// multiclass (in the order a categorical column declares them, else numeric order for numbers,
    /// else ordinal order), a number for regression. A null task is inferred from the label: two
    /// distinct values or a boolean column is binary, another numeric column regression, a string
    /// column multiclass.
    /// </summary>
    /// <exception cref="DatasetFormatException">The label does not suit the task, is missing on a row, or there are too few rows.</exception>
    public static TabularDataset ReadForTask(
        ITabularReader reader, string labelColumn, string digest, string? task, IReadOnlyList<string>? featureColumns = null, string? positiveClass = null, string? source = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentException.ThrowIfNullOrWhiteSpace(labelColumn);
        ArgumentException.ThrowIfNullOrWhiteSpace(digest);
        if (task is not null && !ModelTasks.All.Contains(task, StringComparer.Ordinal))
        {
            throw new ArgumentException($"Task '{task}' is not one of: {string.Join(", ", ModelTasks.All)}.", nameof(task));
        }

        var schema = reader.Schema;
        var where = source is null ? string.Empty : $"{source}: ";
        var labelIndex = schema.IndexOf(labelColumn);
        if (labelIndex < 0)
        {
            throw new DatasetFormatException(
                $"{where}label column '{labelColumn}' is not in the dataset; its columns are: {string.Join(", ", schema.Columns.Select(c => c.Name))}.", null, labelColumn);
        }

        featureColumns ??= [.. schema.Columns.Select(c => c.Name).Where(n => n != labelColumn)];
        if (featureColumns.Count == 0 || featureColumns.Contains(labelColumn, StringComparer.Ordinal) || featureColumns.Distinct(StringComparer.Ordinal).Count() != featureColumns.Count)
        {
            throw new ArgumentException($"The feature columns must be at least one, each listed once, and not the label: {string.Join(", ", featureColumns)}.", nameof(featureColumns));
        }

        var indexes = featureColumns.Select(f => schema.IndexOf(f) is var i and >= 0
            ? i
            : throw new DatasetFormatException($"{where}feature column '{f}' is not in the dataset; its columns are: {string.Join(", ", schema.Columns.Select(c => c.Name))}.", null, f)).ToArray();
        var kinds = indexes.Select(i => schema.Columns[i].Kind).ToArray();
        var numbers = kinds.Select(k => k.IsNumeric() ? new List<float>() : null).ToArray();
        var strings = kinds.Select(k => k.IsNumeric() ? null : new List<string?>()).ToArray();
        var labelKind = schema.Columns[labelIndex].Kind;
        var rawLabels = new List<string>();
        var lines = new List<int>();
        while (reader.ReadBatch(cancellationToken) is { } batch)
        {
            for (var r = 0; r < batch.RowCount; r++)
            {
                var line = (int)Math.Min(int.MaxValue, batch.FirstLine + r);
                rawLabels.Add(RawLabel(batch, labelIndex, labelKind, r)
                    ?? throw new DatasetFormatException($"{where}line {line}, column '{labelColumn}': the label is missing; every training row needs one.", line, labelColumn));
                for (var f = 0; f < indexes.Length; f++)
                {
                    if (numbers[f] is { } column)
                    {
                        var value = (float)batch.Numbers[indexes[f]]![r];
                        if (float.IsInfinity(value))
                        {
                            throw new DatasetFormatException($"{where}line {line}, column '{featureColumns[f]}': the value is infinite or outside the range of a 32-bit float.", line, featureColumns[f]);
                        }

                        column.Add(value);
                    }
                    else
                    {
                        strings[f]!.Add(batch.Strings[indexes[f]]![r]);
                    }
                }

                lines.Add(line);
            }
        }

        if (rawLabels.Count < MinimumRows)
        {
            throw new DatasetFormatException($"{where}the dataset has {rawLabels.Count} rows; training needs at least {MinimumRows} so that the held-out split can be evaluated.");
        }

        var declared = schema.Columns[labelIndex].Categories;
        task ??= InferTask(rawLabels, labelKind);
        TabularDataset Create(bool[] labels, string task, string[]? classes, int[]? classIndexes, float[]? targets, string? positive) => new(
            labelColumn,
            [.. featureColumns],
            kinds,
            [.. numbers.Select(n => n?.ToArray())],
            [.. strings.Select(s => s?.ToArray())],
            labels,
            [.. lines],
            digest)
        {
            Task = task,
            Classes = classes,
            ClassIndexes = classIndexes,
            Targets = targets,
            PositiveClass = positive,
        };

        switch (task)
        {
            case ModelTasks.MulticlassClassification:
            {
                var (indexesByRow, classes) = ClassLabels(rawLabels, labelKind, declared, labelColumn, where);
                return Create(new bool[rawLabels.Count], ModelTasks.MulticlassClassification, classes, indexesByRow, null, null);
            }

            case ModelTasks.Regression:
            {
                if (!labelKind.IsNumeric())
                {
                    throw new DatasetFormatException(
                        $"{where}label column '{labelColumn}' is {labelKind.Name()}; regression needs a numeric label.", null, labelColumn);
                }

                var targets = rawLabels.Select(v => (float)double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
                var infinite = Array.FindIndex(targets, float.IsInfinity);
                if (infinite >= 0)
                {
                    throw new DatasetFormatException($"{where}line {lines[infinite]}, column '{labelColumn}': the label is outside the range of a 32-bit float.", lines[infinite], labelColumn);
                }

                return Create(new bool[rawLabels.Count], ModelTasks.Regression, null, null, targets, null);
            }

            default:
            {
                var (labels, positive) = TwoClassLabels(rawLabels, labelKind, declared, positiveClass, labelColumn, where);
                return Create(labels, ModelTasks.BinaryClassification, null, null, null, positive);
            }
        }
    }

    private static string InferTask(List<string> raw, ColumnKind kind)
    {
        if (kind == ColumnKind.Boolean || raw.Distinct(StringComparer.Ordinal).Take(3).Count() == 2)
        {
            return ModelTasks.BinaryClassification;
        }

        return kind.IsNumeric() ? ModelTasks.Regression : ModelTasks.MulticlassClassification;
    }

    private static (int[] Indexes, string[] Classes) ClassLabels(List<string> raw, ColumnKind kind, IReadOnlyList<string>? declared, string labelColumn, string where)
    {
        var present = raw.ToHashSet(StringComparer.Ordinal);
        string[] classes = declared is not null && present.All(declared.Contains)
            ? [.. declared.Where(present.Contains)]
            : kind.IsNumeric()
                ? [.. present.OrderBy(v => double.Parse(v, CultureInfo.InvariantCulture))]
                : [.. present.Order(StringComparer.Ordinal)];
        if (classes.Length < 2)
        {
            throw new DatasetFormatException(
                $"{where}label column '{labelColumn}' has {classes.Length} distinct value(s) ({string.Join(", ", classes)}); a classifier needs at least two classes.", null, labelColumn);
        }

        var index = classes.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        return ([.. raw.Select(v => index[v])], classes);
    }

    private static string? RawLabel(DataBatch batch, int column, ColumnKind kind, int row)
    {
        if (kind.IsNumeric())
        {
            var value = batch.Numbers[column]![row];
            return double.IsNaN(value) ? null : value.ToString(CultureInfo.InvariantCulture);
        }

        return batch.Strings[column]![row];
    }

    private static (bool[] Labels, string? Positive) TwoClassLabels(
        List<string> raw, ColumnKind kind, IReadOnlyList<string>? declared, string? positiveClass, string labelColumn, string where)
    {
        var distinct = raw.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (distinct.Length != 2)
        {
            throw new DatasetFormatException(
                $"{where}label column '{labelColumn}' has {distinct.Length} distinct value(s) ({string.Join(", ", distinct.Take(10))}); a binary classifier needs exactly two.", null, labelColumn);
        }

        string positive;
        if (positiveClass is not null)
        {
            positive = distinct.Contains(positiveClass, StringComparer.Ordinal)
                ? positiveClass
                : throw new DatasetFormatException($"{where}the positive class '{positiveClass}' is not a value of label column '{labelColumn}' ({string.Join(", ", distinct)}).", null, labelColumn);
        }
        else if (kind.IsNumeric())
        {
            // 0/1 and false/true (which travel as 0 and 1): the larger is the positive class.
            positive = distinct.OrderBy(v => double.Parse(v, CultureInfo.InvariantCulture)).Last();
        }
        else
        {
            positive = declared?.Where(distinct.Contains).LastOrDefault() ?? distinct[1];
        }

        return ([.. raw.Select(v => string.Equals(v, positive, StringComparison.Ordinal))], kind.IsNumeric() ? null : positive);
    }

    /// <summary>A binary label; throws for a dataset read for another task.</summary>
    public bool GetLabel(int row) => Task == ModelTasks.BinaryClassification
        ? _labels[row]
        : throw new InvalidOperationException($"Label column '{LabelColumn}' was read for {Task}, not as a binary label.");

    /// <summary>A multiclass label: the index of the row's class in <see cref="Classes"/>.</summary>
    public int GetClass(int row) => ClassIndexes is { } indexes
        ? indexes[row]
        : throw new InvalidOperationException($"Label column '{LabelColumn}' was read for {Task}, not as classes.");

    /// <summary>A regression label.</summary>
    public float GetTarget(int row) => Targets is { } targets
        ? targets[row]
        : throw new InvalidOperationException($"Label column '{LabelColumn}' was read for {Task}, not as a number.");

    /// <summary>The row's class for splitting by class (0/1 for binary, the class index for multiclass); 0 for regression, which has none.</summary>
    internal int StratumOf(int row) => ClassIndexes?[row] ?? (Targets is null && _labels[row] ? 1 : 0);

    /// <summary>How many strata <see cref="StratumOf"/> returns.</summary>
    internal int StratumCount => Classes?.Count ?? (Targets is null ? 2 : 1);

    /// <summary>The 1-based CSV line the row came from, for messages a user can act on.</summary>
    public int GetLineNumber(int row) => _lineNumbers[row];

    /// <summary>The row's numeric features; string (categorical, text) features are not included.</summary>
    public IReadOnlyDictionary<string, float> GetFeatures(int row)
    {
        var values = new Dictionary<string, float>(FeatureColumns.Count, StringComparer.Ordinal);
        for (var f = 0; f < FeatureColumns.Count; f++)
        {
            if (_features[f] is { } column)
            {
                values[FeatureColumns[f]] = column[row];
            }
        }

        return values;
    }

    /// <summary>The row's categorical and text features; a missing value is null.</summary>
    public IReadOnlyDictionary<string, string?> GetStrings(int row)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (var f = 0; f < FeatureColumns.Count; f++)
        {
            if (_strings[f] is { } column)
            {
                values[FeatureColumns[f]] = column[row];
            }
        }

        return values;
    }

    /// <summary>
    /// Mean, population standard deviation, minimum, maximum and decile edges of each feature over
    /// every row: the training-time distribution that drift on the device is measured against.
    /// </summary>
    public IReadOnlyList<FeatureBaseline> Profile()
    {
        var baselines = new List<FeatureBaseline>(FeatureColumns.Count);
        for (var f = 0; f < FeatureColumns.Count; f++)
        {
            // Drift is measured on numeric features only; a string column has no mean or deciles.
            if (_features[f] is not { } all)
            {
                continue;
            }

            // Welford's update keeps the variance accurate for large, offset values such as rpm; missing values are left out.
            double mean = 0, sumOfSquares = 0, min = double.PositiveInfinity, max = double.NegativeInfinity;
            var values = Array.FindAll(all, v => !float.IsNaN(v));
            for (var i = 0; i < values.Length; i++)
            {
                double value = values[i];
                var delta = value - mean;
                mean += delta / (i + 1);
                sumOfSquares += delta * (value - mean);
                min = Math.Min(min, value);
                max = Math.Max(max, value);
            }

            baselines.Add(values.Length == 0
                ? new FeatureBaseline(FeatureColumns[f], 0, 0, 0, 0, [])
                : new FeatureBaseline(FeatureColumns[f], mean, Math.Sqrt(sumOfSquares / values.Length), min, max, DecileEdges(values)));
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

    /// <summary>A numeric column's values (NaN is missing); null for a string column.</summary>
    internal float[]? FeatureValues(int featureIndex) => _features[featureIndex];

    /// <summary>A categorical or text column's values (null is missing); null for a numeric column.</summary>
    internal string?[]? StringValues(int featureIndex) => _strings[featureIndex];

    /// <summary>How many of a feature's values are missing.</summary>
    internal int MissingCount(int featureIndex) =>
        _features[featureIndex] is { } numbers ? numbers.Count(float.IsNaN) : _strings[featureIndex]!.Count(s => s is null);

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
