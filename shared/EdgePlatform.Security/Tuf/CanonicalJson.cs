using System.Text.Json;

namespace EdgePlatform.Security.Tuf;

/// <summary>
/// The byte form metadata is signed in: object members sorted by ordinal name, no white
/// space, strings escaped the same way every time. Signer and verifier both produce it from
/// the parsed document, so what is signed does not depend on how a file was formatted.
/// </summary>
public static class CanonicalJson
{
    public static byte[] Serialize(JsonElement element)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false, SkipValidation = false }))
        {
            Write(writer, element);
        }

        return buffer.ToArray();
    }

    private static void Write(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    Write(writer, property.Value);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    Write(writer, item);
                }

                writer.WriteEndArray();
                break;
            case JsonValueKind.String:
                writer.WriteStringValue(element.GetString());
                break;
            case JsonValueKind.Number:
                // Metadata carries integers only (versions, lengths); a fraction would sign ambiguously.
                writer.WriteNumberValue(element.TryGetInt64(out var integer)
                    ? integer
                    : throw new TufFormatException($"number {element.GetRawText()} is not an integer; metadata allows integers only"));
                break;
            case JsonValueKind.True:
            case JsonValueKind.False:
                writer.WriteBooleanValue(element.GetBoolean());
                break;
            case JsonValueKind.Null:
                writer.WriteNullValue();
                break;
            default:
                throw new TufFormatException($"unexpected JSON value kind {element.ValueKind}");
        }
    }
}
