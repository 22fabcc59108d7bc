using System.Text;

namespace EdgePlatform.Agent.Inference.Tests;

public sealed class EventBinderTests
{
    private static readonly EventBinder Binder = new(["temperature_c", "vibration_mm_s", "x"]);

    [Fact]
    public void Bind_IntsAndFloatsInAnyOrder_FillsFeaturesInBinderOrder()
    {
        var features = new float[3];

        var id = Binder.Bind("""{"x": -2.5e-3, "site": {"name": "north", "tags": [1, 2]}, "temperature_c": 21, "vibration_mm_s": 0.75}"""u8, features);

        Assert.Null(id);
        Assert.Equal([21f, 0.75f, -2.5e-3f], features);
    }

    [Fact]
    public void Bind_EscapedFieldName_MatchesField()
    {
        var features = new float[3];

        Binder.Bind("""{"temperature\u005fc": 1, "vibration_mm_s": 2, "\u0078": 3}"""u8, features);

        Assert.Equal([1f, 2f, 3f], features);
    }

    [Theory]
    [InlineData("""{"id": "evt-7", "temperature_c": 1, "vibration_mm_s": 2, "x": 3}""", "evt-7")]
    [InlineData("""{"temperature_c": 1, "id": 12345678901234567890, "vibration_mm_s": 2, "x": 3}""", "12345678901234567890")]
    [InlineData("""{"temperature_c": 1, "vibration_mm_s": 2, "x": 3, "id": null}""", null)]
    public void Bind_CorrelationId_ReturnsItAsWritten(string json, string? expected)
    {
        Assert.Equal(expected, Binder.Bind(Encoding.UTF8.GetBytes(json), new float[3]));
    }

    [Theory]
    [InlineData("", "payload is not valid JSON: ")]
    [InlineData("""{"temperature_c": 1, "vibration_mm_s": 2, "x": 3""", "payload is not valid JSON: ")]
    [InlineData("""{"temperature_c": 1, "vibration_mm_s": 2, "x": 3} {}""", "payload is not valid JSON: ")]
    [InlineData("""{"temperature_c": "hot", "vibration_mm_s": 2, "x": 3,""", "payload is not valid JSON: ")]
    [InlineData("""[{"temperature_c": 1, "vibration_mm_s": 2, "x": 3}]""", "payload is not a JSON object")]
    [InlineData("42", "payload is not a JSON object")]
    [InlineData("\"temperature_c\"", "payload is not a JSON object")]
    [InlineData("""{"vibration_mm_s": 2, "x": 3}""", "field 'temperature_c' is missing")]
    [InlineData("""{"temperature_c": "21.5", "vibration_mm_s": 2, "x": 3}""", "field 'temperature_c' is a string, expected a number")]
    [InlineData("""{"temperature_c": true, "vibration_mm_s": 2, "x": 3}""", "field 'temperature_c' is a boolean, expected a number")]
    [InlineData("""{"temperature_c": null, "vibration_mm_s": 2, "x": 3}""", "field 'temperature_c' is null, expected a number")]
    [InlineData("""{"temperature_c": [1], "vibration_mm_s": 2, "x": 3}""", "field 'temperature_c' is an array, expected a number")]
    [InlineData("""{"temperature_c": 1, "vibration_mm_s": 2, "x": 1e39}""", "field 'x' is not finite")]
    [InlineData("""{"temperature_c": 1, "vibration_mm_s": 2, "x": -1e400}""", "field 'x' is not finite")]
    [InlineData("""{"temperature_c": 1, "temperature_c": 1, "vibration_mm_s": 2, "x": 3}""", "field 'temperature_c' appears more than once")]
    [InlineData("""{"id": true, "temperature_c": 1, "vibration_mm_s": 2, "x": 3}""", "field 'id' is a boolean, expected a string or a number")]
    public void Bind_BadEvent_ThrowsWithSpecificReason(string json, string expectedReason)
    {
        var error = Assert.Throws<EventBindingException>(() => Binder.Bind(Encoding.UTF8.GetBytes(json), new float[3]));

        Assert.StartsWith(expectedReason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_InvalidUtf8InCorrelationId_ThrowsNotValidJson()
    {
        byte[] json = [.. "{\"id\": \"a"u8, 0xFF, 0xFE, .. "\", \"temperature_c\": 1, \"vibration_mm_s\": 2, \"x\": 3}"u8];

        var error = Assert.Throws<EventBindingException>(() => Binder.Bind(json, new float[3]));

        Assert.StartsWith("payload is not valid JSON: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_RandomAndMangledBytes_ThrowsNothingButEventBindingException()
    {
        var random = new Random(20240607);
        var valid = """{"id": "evt-1", "temperature_c": 21.5, "vibration_mm_s": -3, "x": 1e-3, "nested": {"a": [1, "b", null]}}"""u8.ToArray();
        var features = new float[3];
        var bound = 0;
        var refused = 0;

        for (var i = 0; i < 30_000; i++)
        {
            var payload = (i % 3) switch
            {
                0 => RandomBytes(random, random.Next(0, 96)),
                1 => Mangle(random, valid),
                _ => RandomJsonish(random),
            };
            try
            {
                Binder.Bind(payload, features);
                bound++;
            }
            catch (EventBindingException)
            {
                refused++;
            }
        }

        // Both outcomes must actually occur, or the inputs were not exercising the parser.
        Assert.True(bound > 0, "no payload bound");
        Assert.True(refused > 0, "no payload was refused");
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] Mangle(Random random, byte[] valid)
    {
        var bytes = valid.ToList();
        for (var edits = random.Next(0, 4); edits > 0 && bytes.Count > 0; edits--)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(4))
            {
                case 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 1:
                    bytes.RemoveAt(at);
                    break;
                case 2:
                    var structural = "{}[]\",:\\-+.eE0u"u8;
                    bytes.Insert(at, structural[random.Next(structural.Length)]);
                    break;
                default:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
            }
        }

        return [.. bytes];
    }

    private static byte[] RandomJsonish(Random random)
    {
        ReadOnlySpan<string> pieces =
        [
            "{", "}", "[", "]", ",", ":", "\"temperature_c\"", "\"vibration_mm_s\"", "\"x\"", "\"id\"", "1", "-0.5",
            "1e309", "true", "null", "\"s\"", "\"\\u00\"", "\"\\uD800\"", " ",
        ];
        var builder = new StringBuilder();
        for (var count = random.Next(1, 24); count > 0; count--)
        {
            builder.Append(pieces[random.Next(pieces.Length)]);
        }

        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    private static readonly EventBinder StringBinder = new(["rpm"], ["color", "site"]);

    [Fact]
    public void Bind_StringFields_FillsTheStringRowAndMissingOnesAreEmpty()
    {
        var features = new float[1];
        var strings = new string[2];

        StringBinder.Bind("""{"site": null, "rpm": 1460, "color": "red"}"""u8, features, strings);
        Assert.Equal(["red", ""], strings);
        Assert.Equal(1460f, features[0]);

        StringBinder.Bind("""{"rpm": 1}"""u8, features, strings);
        Assert.Equal(["", ""], strings);
    }

    [Theory]
    [InlineData("""{"rpm": 1, "color": 3}""", "field 'color' is a number, expected a string")]
    [InlineData("""{"rpm": 1, "color": true}""", "field 'color' is a boolean, expected a string")]
    [InlineData("""{"rpm": 1, "color": ["red"]}""", "field 'color' is an array, expected a string")]
    [InlineData("""{"rpm": 1, "color": "red", "color": "blue"}""", "field 'color' appears more than once")]
    [InlineData("""{"color": "red"}""", "field 'rpm' is missing")]
    public void Bind_StringFieldOfAnotherTypeOrRepeated_SaysWhichFieldAndWhy(string json, string reason)
    {
        var ex = Assert.Throws<EventBindingException>(() => StringBinder.Bind(Encoding.UTF8.GetBytes(json), new float[1], new string[2]));

        Assert.Equal(reason, ex.Message);
    }
}
