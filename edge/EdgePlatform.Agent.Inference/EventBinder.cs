using System.Text;
using System.Text.Json;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Inference;

/// <summary>
/// Reads the fields a model needs out of a JSON event, straight from its UTF-8 bytes: numeric
/// fields into a feature row, categorical and text fields into a string row. A string field that
/// is absent or null binds as the empty string, the value training gave a missing category.
/// Any byte input either binds or fails with an <see cref="EventBindingException"/> that says
/// why; nothing else escapes, so a caller can dead-letter bad events without guarding against
/// surprises. Stateless and safe to share between threads.
/// </summary>
public sealed class EventBinder
{
    // Above this many features the "seen" flags move from the stack to the heap.
    private const int StackSeenLimit = 256;

    private static readonly byte[] CorrelationIdUtf8 = Encoding.UTF8.GetBytes(EventFields.CorrelationId);

    // Numeric fields first, then string fields: an index below _numericCount writes the feature row.
    private readonly string[] _fields;
    private readonly byte[][] _utf8Fields;
    private readonly int _numericCount;

    /// <param name="fields">Numeric event field names, in the order their values are written to a feature row.</param>
    /// <param name="stringFields">Categorical and text event field names, in the order their values are written to a string row.</param>
    /// <param name="fieldsAcceptingMissing">Numeric fields bound as NaN when absent or null, because the model replaces a missing value itself.</param>
    public EventBinder(IEnumerable<string> fields, IEnumerable<string>? stringFields = null, IEnumerable<string>? fieldsAcceptingMissing = null)
    {
        ArgumentNullException.ThrowIfNull(fields);
        string[] numeric = [.. fields];
        string[] strings = [.. stringFields ?? []];
        _fields = [.. numeric, .. strings];
        _numericCount = numeric.Length;
        if (_fields.Length == 0)
        {
            throw new ArgumentException("at least one field is required", nameof(fields));
        }

        if (_fields.Distinct(StringComparer.Ordinal).Count() != _fields.Length)
        {
            throw new ArgumentException("each field may be bound only once", nameof(fields));
        }

        _utf8Fields = [.. _fields.Select(Encoding.UTF8.GetBytes)];
        Fields = numeric;
        StringFields = strings;
        var accepting = new HashSet<string>(fieldsAcceptingMissing ?? [], StringComparer.Ordinal);
        _acceptsMissing = [.. numeric.Select(accepting.Contains)];
        AcceptsAnyMissing = Array.IndexOf(_acceptsMissing, true) >= 0;
    }

    private readonly bool[] _acceptsMissing;

    /// <summary>Whether numeric field <paramref name="index"/> (of <see cref="Fields"/>) binds as NaN when missing.</summary>
    public bool AcceptsMissing(int index) => _acceptsMissing[index];

    /// <summary>Whether any numeric field binds as NaN when missing.</summary>
    public bool AcceptsAnyMissing { get; }

    /// <summary>Numeric event field names in feature-row order.</summary>
    public IReadOnlyList<string> Fields { get; }

    /// <summary>Categorical and text event field names in string-row order.</summary>
    public IReadOnlyList<string> StringFields { get; }

    public int FeatureCount => _numericCount;

    /// <summary>
    /// Writes the event's values for <see cref="Fields"/> into <paramref name="features"/>,
    /// in order, and returns its correlation id (<see cref="EventFields.CorrelationId"/>,
    /// a string or a number; null when absent or null).
    /// </summary>
    /// <exception cref="EventBindingException">The event is not a JSON object, or a field is missing or not a finite number.</exception>
    public string? Bind(ReadOnlySpan<byte> jsonEvent, Span<float> features) => Bind(jsonEvent, features, []);

    /// <summary>
    /// As <see cref="Bind(ReadOnlySpan{byte}, Span{float})"/>, and writes the event's values for
    /// <see cref="StringFields"/> into <paramref name="strings"/> (empty where absent or null).
    /// </summary>
    /// <exception cref="EventBindingException">The event is not a JSON object, a numeric field is missing or not a finite number, or a string field is not a string.</exception>
    public string? Bind(ReadOnlySpan<byte> jsonEvent, Span<float> features, Span<string> strings)
    {
        if (features.Length != _numericCount)
        {
            throw new ArgumentException($"the feature row holds {features.Length} values; this binder fills {_numericCount}", nameof(features));
        }

        if (strings.Length != _fields.Length - _numericCount)
        {
            throw new ArgumentException($"the string row holds {strings.Length} values; this binder fills {_fields.Length - _numericCount}", nameof(strings));
        }

        strings.Fill(string.Empty);

        var seen = _fields.Length <= StackSeenLimit ? stackalloc bool[_fields.Length] : new bool[_fields.Length];
        seen.Clear();
        try
        {
            return BindObject(jsonEvent, features, strings, seen);
        }
        catch (JsonException ex)
        {
            throw new EventBindingException($"payload is not valid JSON: {ex.Message}", ex);
        }
        catch (InvalidOperationException ex)
        {
            // Utf8JsonReader reports text it cannot transcode (invalid UTF-8 in a string) this way.
            throw new EventBindingException($"payload is not valid JSON: {ex.Message}", ex);
        }
    }

    private string? BindObject(ReadOnlySpan<byte> jsonEvent, Span<float> features, Span<string> strings, Span<bool> seen)
    {
        var reader = new Utf8JsonReader(jsonEvent);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new EventBindingException("payload is not a JSON object");
        }

        string? correlationId = null;
        // A field problem is reported only once the whole payload has parsed, so a truncated or
        // corrupted event is called invalid JSON rather than blamed on whichever field came first.
        string? fieldProblem = null;
        var found = 0;
        var expected = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var index = FindField(ref reader, expected);
            var isCorrelationId = index < 0 && reader.ValueTextEquals(CorrelationIdUtf8);
            reader.Read();
            if (index >= 0)
            {
                expected = index + 1;
                if (seen[index])
                {
                    fieldProblem ??= $"field '{_fields[index]}' appears more than once";
                }
                else if (index >= _numericCount)
                {
                    if (ReadString(ref reader, _fields[index], out var text) is { } problem)
                    {
                        fieldProblem ??= problem;
                    }
                    else
                    {
                        strings[index - _numericCount] = text;
                        seen[index] = true;
                    }
                }
                else if (reader.TokenType == JsonTokenType.Null && _acceptsMissing[index])
                {
                    features[index] = float.NaN;
                    seen[index] = true;
                    found++;
                }
                else if (ReadFeature(ref reader, _fields[index], out var value) is { } problem)
                {
                    fieldProblem ??= problem;
                }
                else
                {
                    features[index] = value;
                    seen[index] = true;
                    found++;
                }
            }
            else if (isCorrelationId)
            {
                if (ReadCorrelationId(ref reader, out var id) is { } problem)
                {
                    fieldProblem ??= problem;
                }
                else
                {
                    correlationId = id;
                }
            }

            reader.Skip();
        }

        // Reading past the closing brace makes the reader reject trailing content.
        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            throw new EventBindingException("payload is not valid JSON: content follows the event object");
        }

        if (fieldProblem is not null)
        {
            throw new EventBindingException(fieldProblem);
        }

        for (var i = 0; found != _numericCount && i < _numericCount; i++)
        {
            if (!seen[i] && _acceptsMissing[i])
            {
                features[i] = float.NaN;
                seen[i] = true;
                found++;
            }
        }

        if (found != _numericCount)
        {
            throw new EventBindingException($"field '{_fields[seen[.._numericCount].IndexOf(false)]}' is missing");
        }

        return correlationId;
    }

    private int FindField(ref Utf8JsonReader reader, int expected)
    {
        // Producers usually write fields in the same order every time, so try the one after the
        // last match before scanning them all.
        if (expected < _utf8Fields.Length && reader.ValueTextEquals(_utf8Fields[expected]))
        {
            return expected;
        }

        for (var i = 0; i < _utf8Fields.Length; i++)
        {
            if (i != expected && reader.ValueTextEquals(_utf8Fields[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static string? ReadFeature(ref Utf8JsonReader reader, string field, out float value)
    {
        value = 0;
        if (reader.TokenType != JsonTokenType.Number)
        {
            return $"field '{field}' is {Describe(reader.TokenType)}, expected a number";
        }

        // Values beyond float32's range parse as infinities; a model cannot use them.
        if (!reader.TryGetSingle(out value) || !float.IsFinite(value))
        {
            return $"field '{field}' is not finite as a 32-bit float";
        }

        return null;
    }

    private static string? ReadString(ref Utf8JsonReader reader, string field, out string value)
    {
        value = string.Empty;
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                value = reader.GetString() ?? string.Empty;
                return null;
            case JsonTokenType.Null:
                return null;
            default:
                return $"field '{field}' is {Describe(reader.TokenType)}, expected a string";
        }
    }

    private static string? ReadCorrelationId(ref Utf8JsonReader reader, out string? id)
    {
        id = null;
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                id = reader.GetString();
                return null;
            case JsonTokenType.Number:
                // Kept as written: a numeric id round-trips to the producer without float formatting.
                id = Encoding.UTF8.GetString(reader.ValueSpan);
                return null;
            case JsonTokenType.Null:
                return null;
            default:
                return $"field '{EventFields.CorrelationId}' is {Describe(reader.TokenType)}, expected a string or a number";
        }
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        _ => token.ToString(),
    };
}
