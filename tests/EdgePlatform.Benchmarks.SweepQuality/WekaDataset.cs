using EdgePlatform.Contracts;
using EdgePlatform.Training.Data;

namespace EdgePlatform.Benchmarks.SweepQuality;

/// <summary>
/// One of Weka's ARFF files as both sides of the benchmark read it: the last attribute is the
/// label (Weka's convention, which its example datasets follow), every other one a feature. The
/// task follows the label's declared type: nominal with two values is binary, with more is
/// multiclass, numeric is regression; the metric is the sweep's default for the task.
/// </summary>
internal sealed record WekaDataset(string Name, string Path, byte[] Content, DatasetInfo Info, string Task, string Metric, int Classes, double TrivialScore)
{
    public int Rows => Info.Rows;

    public static WekaDataset Open(string nameOrPath, string directory)
    {
        var path = nameOrPath.EndsWith(".arff", StringComparison.OrdinalIgnoreCase) ? nameOrPath : System.IO.Path.Combine(directory, nameOrPath + ".arff");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"dataset '{nameOrPath}': {path} does not exist; Weka's examples come with Debian's weka package (apt-get install weka; tests/run.sh installs it), or pass --data-dir or a path ending .arff", path);
        }

        var content = File.ReadAllBytes(path);
        var name = System.IO.Path.GetFileNameWithoutExtension(path);
        using var reader = TabularFormats.Open(new MemoryStream(content, writable: false), path);
        var columns = reader.Schema.Columns;
        var label = columns[^1];
        var features = columns.Take(columns.Count - 1).Where(c => c.Kind != ColumnKind.Ignore).ToList();
        var labels = new List<string>();
        var numbers = new List<double>();
        var rows = 0;
        while (reader.ReadBatch() is { } batch)
        {
            for (var r = 0; r < batch.RowCount; r++)
            {
                rows++;
                if (label.Kind.IsNumeric())
                {
                    numbers.Add(batch.Numbers[columns.Count - 1]![r]);
                }
                else if (batch.Strings[columns.Count - 1]![r] is { } value)
                {
                    labels.Add(value);
                }
            }
        }

        var (task, classes, trivial) = label.Kind switch
        {
            ColumnKind.Numeric => (ModelTasks.Regression, 0, StandardDeviation(numbers.Where(double.IsFinite).ToList())),
            ColumnKind.Categorical when labels.Distinct(StringComparer.Ordinal).Count() is var k && k == 2 => (ModelTasks.BinaryClassification, 2, 0.5),
            ColumnKind.Categorical when labels.Distinct(StringComparer.Ordinal).Count() is var k && k > 2 => (ModelTasks.MulticlassClassification, k, 1.0 / k),
            _ => throw new InvalidDataException(
                $"{path}: the label '{label.Name}' (the last attribute) is {label.Kind.Name()} with {labels.Distinct(StringComparer.Ordinal).Count()} values; the benchmark needs a nominal label with two or more values or a numeric one"),
        };

        var info = new DatasetInfo(
            name,
            ContentDigest.Compute(content),
            rows,
            [.. features.Select(c => c.Name)],
            label.Name,
            DateTimeOffset.UnixEpoch,
            TabularFormat.Arff.ToString().ToLowerInvariant(),
            features.ToDictionary(c => c.Name, c => c.Kind.Name(), StringComparer.Ordinal));
        return new WekaDataset(name, path, content, info, task, SweepMetrics.DefaultFor(task), classes, trivial);
    }

    /// <summary>
    /// Whether <paramref name="score"/> beats what a model that learned nothing scores: AUC 0.5,
    /// macro accuracy 1/classes (always the same class), RMSE the label's standard deviation
    /// (always the mean).
    /// </summary>
    public bool BeatsTrivial(double score) =>
        double.IsFinite(score) && (SweepMetrics.HigherIsBetter(Metric) ? score > TrivialScore && score <= 1 : score < TrivialScore && score >= 0);

    private static double StandardDeviation(List<double> values)
    {
        var mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Count);
    }
}
