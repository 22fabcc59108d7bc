using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EdgePlatform.Cli.Output;

/// <summary>
/// Writes a JSON document as YAML, so <c>-o yaml</c> carries exactly the data of <c>-o json</c>:
/// same keys, same values, same types. Strings stay unquoted only where no YAML reader could
/// take them for anything else (a number, a boolean, null, a date, syntax); the rest are
/// written double-quoted with JSON's escapes, which YAML's double-quoted style shares.
/// </summary>
public static class YamlWriter
{
    private const string Indent = "  ";

    public static string FromJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        var yaml = new StringBuilder();
        WriteTop(yaml, document.RootElement);
        return yaml.ToString();
    }

    private static void WriteTop(StringBuilder yaml, JsonElement value)
    {
        if (IsNonEmptyCollection(value))
        {
            WriteBlock(yaml, value, string.Empty);
        }
        else
        {
            yaml.Append(Scalar(value)).Append('\n');
        }
    }

    /// <summary>A non-empty mapping or sequence, each entry on its own line at <paramref name="indent"/>.</summary>
    private static void WriteBlock(StringBuilder yaml, JsonElement value, string indent)
    {
        if (value.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in value.EnumerateObject())
            {
                yaml.Append(indent).Append(Text(property.Name)).Append(':');
                WriteNested(yaml, property.Value, indent, inSequence: false);
            }

            return;
        }

        foreach (var item in value.EnumerateArray())
        {
            yaml.Append(indent).Append('-');
            if (item.ValueKind == JsonValueKind.Object && IsNonEmptyCollection(item))
            {
                // "- key: value" with the mapping's other keys aligned under the first.
                var first = true;
                foreach (var property in item.EnumerateObject())
                {
                    yaml.Append(first ? " " : indent + Indent).Append(Text(property.Name)).Append(':');
                    WriteNested(yaml, property.Value, indent + Indent, inSequence: false);
                    first = false;
                }
            }
            else
            {
                WriteNested(yaml, item, indent, inSequence: true);
            }
        }
    }

    /// <summary>What follows a key's colon or a sequence's dash: a scalar on the same line, or a block below it.</summary>
    private static void WriteNested(StringBuilder yaml, JsonElement value, string indent, bool inSequence)
    {
        if (!IsNonEmptyCollection(value))
        {
            yaml.Append(' ').Append(Scalar(value)).Append('\n');
            return;
        }

        yaml.Append('\n');

        // A sequence under a key sits at the key's indentation, as kubectl writes it.
        var nested = value.ValueKind == JsonValueKind.Array && !inSequence ? indent : indent + Indent;
        WriteBlock(yaml, value, nested);
    }

    private static bool IsNonEmptyCollection(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => value.EnumerateObject().Any(),
        JsonValueKind.Array => value.GetArrayLength() > 0,
        _ => false,
    };

    private static string Scalar(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "{}",
        JsonValueKind.Array => "[]",
        JsonValueKind.String => Text(value.GetString()!),
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => "null",
    };

    /// <summary>A string scalar: plain when unambiguous, else double-quoted.</summary>
    public static string Text(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return IsSafePlain(text) ? text : Quoted(text);
    }

    // YAML's double-quoted style: backslash escapes for quotes, backslashes and whatever YAML
    // does not allow as printable (control characters, its own line separators); the rest,
    // non-ASCII included, is written as it is so it stays readable.
    private static string Quoted(string text)
    {
        var quoted = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
        {
            _ = c switch
            {
                '"' => quoted.Append("\\\""),
                '\\' => quoted.Append("\\\\"),
                '\n' => quoted.Append("\\n"),
                '\t' => quoted.Append("\\t"),
                '\r' => quoted.Append("\\r"),
                < ' ' or (>= '\u007f' and <= '\u009f') or '\u2028' or '\u2029' or '\ufeff' or '\ufffe' or '\uffff'
                    => quoted.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
                _ => quoted.Append(c),
            };
        }

        return quoted.Append('"').ToString();
    }

    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".nan", ".inf", "-.inf", "+.inf",
    };

    // Conservative on purpose: a letter first (so never a number, date, indicator or anchor), then
    // only characters that mean nothing to YAML inside a plain scalar, and no ':' at the end.
    private static bool IsSafePlain(string text) =>
        text.Length > 0
        && char.IsAsciiLetter(text[0])
        && !text.EndsWith(':')
        && !Reserved.Contains(text)
        && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or ':' or '@' or '+')
        && !LooksLikeNumber(text);

    private static bool LooksLikeNumber(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
}
