using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Ports;

/// <summary>Trains a model on a dataset and exports it to ONNX.</summary>
public interface IModelTrainer
{
    /// <summary>Trainer names this trainer accepts; the first is the default.</summary>
    IReadOnlyList<string> Trainers { get; }

    Task<TrainedModel> TrainAsync(TrainingJob job, Stream dataset, CancellationToken cancellationToken);

    /// <summary>
    /// Parses and profiles a CSV dataset; throws <see cref="RequestValidationException"/> saying
    /// what is wrong with it. <paramref name="label"/> null means the trainer's default label column.
    /// </summary>
    DatasetInfo DescribeDataset(string name, string? label, ReadOnlyMemory<byte> csv, DateTimeOffset now);

    /// <summary>
    /// Checks per-column transforms against the dataset's columns before a run is queued; throws
    /// <see cref="RequestValidationException"/> (field <c>transforms</c>) naming the column, the
    /// transform and why it is refused.
    /// </summary>
    void ValidateTransforms(DatasetInfo dataset, IReadOnlyDictionary<string, IReadOnlyList<string>>? transforms);
}

/// <summary>One queued run; null sizes and tolerance take the trainer's defaults.</summary>
public sealed record TrainingJob(
    string RunId,
    DatasetInfo Dataset,
    string ModelName,
    string ModelVersion,
    string Trainer,
    int Seed,
    int? Trees = null,
    int? Leaves = null,
    double? ParityTolerance = null,
    double? ParityRelativeTolerance = null,
    IReadOnlyDictionary<string, IReadOnlyList<string>>? Transforms = null);

/// <summary>A model to publish: its card, its ONNX graph and the ML.NET model it came from (null for a model imported from elsewhere).</summary>
public sealed record TrainedModel(ModelCard Card, byte[] OnnxModel, byte[]? MlNetModel);
