namespace EdgePlatform.Training.Scoring;

/// <summary>
/// One binary classifier prediction: <paramref name="Label"/> is <c>Score &gt; 0</c>,
/// <paramref name="Score"/> the raw margin, <paramref name="Probability"/> the calibrated probability of the positive class.
/// </summary>
public readonly record struct BinaryPrediction(bool Label, float Score, float Probability);
