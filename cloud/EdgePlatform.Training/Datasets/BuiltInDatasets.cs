namespace EdgePlatform.Training.Datasets;

/// <summary>A dataset shipped inside this assembly, ready to train on without uploading anything.</summary>
public sealed class BuiltInDataset
{
    private readonly string _resourceName;

    internal BuiltInDataset(string name, string resourceName, string labelColumn, IReadOnlyList<string> featureColumns)
    {
        Name = name;
        _resourceName = resourceName;
        LabelColumn = labelColumn;
        FeatureColumns = featureColumns;
    }

    public string Name { get; }

    public string LabelColumn { get; }

    public IReadOnlyList<string> FeatureColumns { get; }

    /// <summary>The raw CSV bytes, exactly as shipped (so digests match the file in the repository).</summary>
    public Stream Open() =>
        typeof(BuiltInDataset).Assembly.GetManifestResourceStream(_resourceName)
        ?? throw new InvalidOperationException($"Embedded resource '{_resourceName}' for dataset '{Name}' is missing from {typeof(BuiltInDataset).Assembly.GetName().Name}; the build did not embed it.");

    public TabularDataset Load()
    {
        using var stream = Open();
        return TabularDataset.Load(stream, LabelColumn, FeatureColumns);
    }
}

public static class BuiltInDatasets
{
    public const string SensorAnomalyName = "sensor-anomaly";

    public static BuiltInDataset SensorAnomaly { get; } = new(
        SensorAnomalyName,
        "EdgePlatform.Training.Datasets.sensor-anomaly.csv",
        SensorDatasetGenerator.LabelColumn,
        SensorDatasetGenerator.FeatureColumns);

    public static IReadOnlyList<BuiltInDataset> All { get; } = [SensorAnomaly];

    public static BuiltInDataset Get(string name) =>
        All.FirstOrDefault(d => string.Equals(d.Name, name, StringComparison.Ordinal))
        ?? throw new ArgumentException(
            $"There is no built-in dataset named '{name}'; built-in datasets are: {string.Join(", ", All.Select(d => d.Name))}.",
            nameof(name));
}
