using EdgePlatform.Training.Datasets;

namespace EdgePlatform.Training.Tests;

/// <summary>One FastTree model on the built-in dataset, trained once and shared: training is the slow part.</summary>
public sealed class SensorAnomalyModelFixture
{
    public static readonly DateTimeOffset TrainedAt = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public SensorAnomalyModelFixture()
    {
        Data = BuiltInDatasets.SensorAnomaly.Load();
        Model = new ModelTrainer(new FixedTimeProvider(TrainedAt)).Train(Spec(), Data, Progress);
    }

    public TabularDataset Data { get; }

    public TrainedModel Model { get; }

    public RecordingProgress Progress { get; } = new();

    public static TrainingSpec Spec(string trainer = TrainerNames.FastTree) => new()
    {
        ModelName = "pump-anomaly",
        ModelVersion = "1.0.0",
        Trainer = trainer,
        FeatureColumns = BuiltInDatasets.SensorAnomaly.FeatureColumns,
        LabelColumn = BuiltInDatasets.SensorAnomaly.LabelColumn,
        TrainingRunId = "run-0001",
        DatasetName = BuiltInDatasets.SensorAnomalyName,
        CodeVersion = "test",
    };

    /// <summary>Records synchronously; <see cref="Progress{T}"/> would post to the thread pool and race the assertions.</summary>
    public sealed class RecordingProgress : IProgress<TrainingProgress>
    {
        private readonly List<TrainingProgress> _reports = [];

        public IReadOnlyList<TrainingProgress> Reports => _reports;

        public void Report(TrainingProgress value) => _reports.Add(value);
    }
}

[CollectionDefinition(Name)]
public sealed class SharedSensorAnomalyModel : ICollectionFixture<SensorAnomalyModelFixture>
{
    public const string Name = "Sensor anomaly model";
}
