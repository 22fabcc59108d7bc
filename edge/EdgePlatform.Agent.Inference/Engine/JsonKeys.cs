using System.Text.Json;

namespace EdgePlatform.Agent.Inference.Engine;

/// <summary>Finds a top-level field of a JSON event and hashes its value without materialising a string.</summary>
internal static class JsonKeys
{
    /// <summary>
    /// Hashes the raw value of <paramref name="fieldUtf8"/> (a string's unescaped text, or a
    /// number as written). False when the event is not an object, lacks the field, or holds
    /// something other than a string or number there; such events go to the control arm.
    /// </summary>
    public static bool TryHash(ReadOnlySpan<byte> json, ReadOnlySpan<byte> fieldUtf8, out uint hash)
    {
        hash = 0;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var match = reader.ValueTextEquals(fieldUtf8);
                reader.Read();
                if (!match)
                {
                    reader.Skip();
                    continue;
                }

                if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.Number))
                {
                    return false;
                }

                if (reader.ValueIsEscaped)
                {
                    Span<byte> unescaped = stackalloc byte[256];
                    var written = reader.CopyString(unescaped.Length >= reader.ValueSpan.Length ? unescaped : new byte[reader.ValueSpan.Length]);
                    hash = Contracts.ArmBuckets.Hash(unescaped[..Math.Min(written, unescaped.Length)]);
                }
                else
                {
                    hash = Contracts.ArmBuckets.Hash(reader.ValueSpan);
                }

                return true;
            }
        }
        catch (JsonException)
        {
            // Not JSON: it will be dead-lettered by the binder with the reason.
        }

        return false;
    }
}
