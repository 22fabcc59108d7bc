namespace EdgePlatform.Agent.Inference.Engine;

/// <summary>
/// Events that arrive together in one message and are bound field by field rather than parsed
/// from JSON, such as the rows of an Arrow record batch or of a v2 inference request. Used only
/// by the engine's scoring thread.
/// </summary>
public interface IEventRows
{
    int RowCount { get; }

    /// <summary>
    /// Writes row <paramref name="row"/>'s values of <paramref name="fields"/> into
    /// <paramref name="features"/>, in order, and returns the row's correlation id, if any.
    /// </summary>
    /// <exception cref="EventBindingException">A field is missing, null or not a finite number.</exception>
    string? Bind(int row, IReadOnlyList<string> fields, Span<float> features);

    /// <summary>
    /// Binds row <paramref name="row"/> as <paramref name="binder"/> describes: numeric fields into
    /// <paramref name="features"/> (NaN where missing and the binder accepts it), categorical and
    /// text fields into <paramref name="strings"/> (empty where missing or null). Rows that carry
    /// numbers only (a v2 request) refuse a model with string fields rather than score every
    /// category as missing, and require every numeric field.
    /// </summary>
    /// <exception cref="EventBindingException">A field is missing, null or of the wrong type.</exception>
    string? Bind(int row, EventBinder binder, Span<float> features, Span<string> strings)
    {
        ArgumentNullException.ThrowIfNull(binder);
        if (binder.StringFields.Count > 0)
        {
            throw new EventBindingException($"field '{binder.StringFields[0]}' is a string field, and these rows carry numbers only");
        }

        return Bind(row, binder.Fields, features);
    }

    /// <summary>Hashes row <paramref name="row"/>'s value of <paramref name="field"/> with <see cref="EdgePlatform.Contracts.ArmBuckets.Hash(ReadOnlySpan{byte})"/>; false when it has none.</summary>
    bool TryHashKey(int row, string field, out uint hash);
}

/// <summary>
/// One event waiting to be scored: a JSON payload, or one row of an <see cref="IEventRows"/>.
/// A struct, so queueing an event allocates nothing beyond the event itself.
/// </summary>
public readonly record struct InferenceEvent
{
    private InferenceEvent(ReadOnlyMemory<byte> json, IEventRows? rows, int row, IInferenceSink sink, object? state)
    {
        Json = json;
        Rows = rows;
        Row = row;
        Sink = sink;
        State = state;
    }

    /// <summary>The UTF-8 JSON object of a JSON event; empty for a row event.</summary>
    public ReadOnlyMemory<byte> Json { get; }

    public IEventRows? Rows { get; }

    public int Row { get; }

    /// <summary>Told exactly once what became of the event.</summary>
    public IInferenceSink Sink { get; }

    /// <summary>The source's own state, handed back to <see cref="Sink"/> (a message, a request).</summary>
    public object? State { get; }

    /// <summary>When the engine accepted the event (<see cref="TimeProvider.GetTimestamp"/>).</summary>
    public long AcceptedAt { get; init; }

    public static InferenceEvent FromJson(ReadOnlyMemory<byte> json, IInferenceSink sink, object? state = null)
    {
        ArgumentNullException.ThrowIfNull(sink);
        return new InferenceEvent(json, null, 0, sink, state);
    }

    public static InferenceEvent FromRow(IEventRows rows, int row, IInferenceSink sink, object? state = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, rows.RowCount);
        return new InferenceEvent(default, rows, row, sink, state);
    }
}
