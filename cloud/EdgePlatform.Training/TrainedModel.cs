using EdgePlatform.Contracts;

namespace EdgePlatform.Training;

/// <summary>
/// The outcome of a training run: the card that describes it, the ONNX graph devices run,
/// and the ML.NET model zip the cloud keeps to score events itself (see <see cref="Scoring.MlNetScorer"/>).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1819", Justification = "The models are opaque blobs handed whole to storage and runtimes, never indexed.")]
public sealed record TrainedModel(ModelCard Card, byte[] OnnxModel, byte[] MlNetModel);
