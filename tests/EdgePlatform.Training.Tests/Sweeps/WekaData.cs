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

    public static TabularDataset Load(string task)
    {
        lock (Loaded)
        {
            if (!Loaded.TryGetValue(task, out var data))
            {
                data = SweepData.LoadFile(WekaExamples.File(FileFor(task)), new SweepSpec());
                Loaded[task] = data;
            }

            return data;
        }
    }
}
