namespace EdgePlatform.Training;

public enum TrainingStage
{
    Splitting,
    Fitting,
    Evaluating,
    ExportingOnnx,
    CheckingParity,
    Completed,
}

public sealed record TrainingProgress(TrainingStage Stage, string Description);
