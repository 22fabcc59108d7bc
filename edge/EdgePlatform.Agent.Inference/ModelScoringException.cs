namespace EdgePlatform.Agent.Inference;

/// <summary>
/// A batch could not be scored by a model outside the process: its server did not answer in
/// time, refused the request, or answered with something that is not a prediction for every row.
/// The message says which and, where the server gave one, its reason.
/// </summary>
public sealed class ModelScoringException : Exception
{
    public ModelScoringException()
    {
    }

    public ModelScoringException(string message)
        : base(message)
    {
    }

    public ModelScoringException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
