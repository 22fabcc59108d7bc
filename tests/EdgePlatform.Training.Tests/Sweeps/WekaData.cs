using EdgePlatform.Contracts;
using EdgePlatform.Training.Sweeps;
using EdgePlatform.Training.Tests.Data;

namespace EdgePlatform.Training.Tests.Sweeps;

/// <summary>Real datasets from Debian's weka package, one per task, read as a sweep reads a local file.</summary>
internal static class WekaData
{
    private static readonly Dictionary<string, TabularDataset> Loaded = new(StringComparer.Ordinal);

    /// <summary>ionosphere for binary (351 rows), iris for multiclass (150 rows, 3 classes), cpu for regression (209 rows).</summary>
    public static string FileFor(string task) => task switch
    {
        ModelTasks.MulticlassClassification => "iris.arff",
        ModelTasks.Regression => "cpu.arff",
        _ => "ionosphere.arff",
    };

    public static string Path(string file) =>
        WekaExamplesTests.Files().FirstOrDefault(f => System.IO.Path.GetFileName(f).StartsWith(file, StringComparison.Ordinal))
        ?? throw new InvalidOperationException($"{file} is not installed; tests/run.sh installs Debian's weka package (apt-get install weka).");

    public static TabularDataset Load(string task)
    {
        lock (Loaded)
        {
            if (!Loaded.TryGetValue(task, out var data))
            {
                data = SweepData.LoadFile(Path(FileFor(task)), new SweepSpec());
                Loaded[task] = data;
            }

            return data;
        }
    }
}

/// <summary>A theory over the weka package's files: skipped locally without the package, failed under CI=true.</summary>
public sealed class WekaExamplesTheoryAttribute : TheoryAttribute
{
    public WekaExamplesTheoryAttribute()
    {
        var ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        if (!ci && WekaExamplesTests.Files().Count == 0)
        {
            Skip = "Debian's weka package is not installed; tests/run.sh installs it, or apt-get install weka.";
        }
    }
}
