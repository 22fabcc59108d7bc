namespace EdgePlatform.Training.Scoring;

/// <summary>One multiclass prediction: the predicted class's name and the probability of each class, in the card's class order.</summary>
public sealed record MulticlassPrediction(string Label, IReadOnlyList<float> Probabilities);
