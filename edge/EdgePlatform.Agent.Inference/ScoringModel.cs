using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Inference;

/// <summary>
/// A model version ready to score batches of rows bound from events by its card. The engine,
/// its hosts, arms and telemetry work on this seam alone, so a model scored in-process
/// (<see cref="LoadedModel"/>, ONNX Runtime) and one scored by another process over the Open
/// Inference Protocol (<see cref="InferenceProtocolModel"/>, a model's container) share one
/// code path from binding to telemetry.
/// </summary>
/// <remarks>
/// Score from one thread at a time: implementations reuse their buffers from call to call.
/// A batch that cannot be scored throws <see cref="ModelScoringException"/> (or ONNX Runtime's
/// own exception in-process), which fails that batch's events and nothing more.
/// </remarks>
public abstract class ScoringModel : IDisposable
{
    private int _claimedByHost;
    private volatile bool _disposed;

    protected ScoringModel(ModelCard card, ModelIdentity identity, EventBinder binder)
    {
        ArgumentNullException.ThrowIfNull(card);
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(binder);
        Card = card;
        Identity = identity;
        Binder = binder;
        IsMulticlass = string.Equals(card.Task, ModelTasks.MulticlassClassification, StringComparison.Ordinal);
    }

    public ModelCard Card { get; }

    public ModelIdentity Identity { get; }

    /// <summary>Binds events to this model's feature rows; the layout <see cref="ScoreBatch(ReadOnlySpan{float}, ReadOnlySpan{string}, Span{RowPrediction})"/> expects.</summary>
    public EventBinder Binder { get; }

    /// <summary>Values in one feature row.</summary>
    public int FeatureCount => Binder.FeatureCount;

    /// <summary>Values in one string row (categorical and text fields, <see cref="EventBinder.StringFields"/>).</summary>
    public int StringCount => Binder.StringFields.Count;

    /// <summary>True for a multiclass model, whose rows may carry a <see cref="RowPrediction.Problem"/>.</summary>
    internal bool IsMulticlass { get; }

    internal bool IsDisposed => _disposed;

    /// <summary>Scores one row of zeros so that the first real event does not pay for lazy start-up; returns how long it took.</summary>
    public abstract TimeSpan Warm();

    /// <summary>Binds a JSON event (UTF-8) to this model's inputs and scores it.</summary>
    /// <exception cref="EventBindingException">The event cannot be bound; the message says why.</exception>
    public abstract ScoreResult Score(ReadOnlySpan<byte> jsonEvent);

    /// <summary>
    /// Scores rows already bound with <see cref="Binder"/>: <paramref name="featureRows"/> holds
    /// <c>predictions.Length</c> rows of <see cref="FeatureCount"/> values each, and row i's
    /// prediction is written to <c>predictions[i]</c>. All rows go through the model in one run.
    /// Returns how long the run took.
    /// </summary>
    public TimeSpan ScoreBatch(ReadOnlySpan<float> featureRows, Span<RowPrediction> predictions) => ScoreBatch(featureRows, [], predictions);

    /// <summary>
    /// As <see cref="ScoreBatch(ReadOnlySpan{float}, Span{RowPrediction})"/>, with
    /// <paramref name="stringRows"/> holding <c>predictions.Length</c> rows of <see cref="StringCount"/>
    /// strings each, bound with <see cref="Binder"/>.
    /// </summary>
    public abstract TimeSpan ScoreBatch(ReadOnlySpan<float> featureRows, ReadOnlySpan<string> stringRows, Span<RowPrediction> predictions);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>True for the first host to claim this model; a model has one owner that disposes it.</summary>
    internal bool TryClaimForHost() => Interlocked.Exchange(ref _claimedByHost, 1) == 0;

    /// <summary>Releases what the model holds; called once.</summary>
    protected abstract void Dispose(bool disposing);

    /// <summary>
    /// The first index of the largest value; NaN never wins. A multiclass row's class, the same
    /// whichever implementation scored its probabilities.
    /// </summary>
    protected static int ArgMax(float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best] || float.IsNaN(values[best]))
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>Checks the row counts of a batch against this model's widths.</summary>
    protected void CheckBatch(ReadOnlySpan<float> featureRows, ReadOnlySpan<string> stringRows, int rows)
    {
        if (stringRows.Length != rows * StringCount)
        {
            throw new ArgumentException(
                $"{rows} predictions need {rows * StringCount} string values ({StringCount} per row); got {stringRows.Length}",
                nameof(stringRows));
        }

        if (featureRows.Length != rows * FeatureCount)
        {
            throw new ArgumentException(
                $"{rows} predictions need {rows * FeatureCount} feature values ({FeatureCount} per row); got {featureRows.Length}",
                nameof(featureRows));
        }
    }
}
