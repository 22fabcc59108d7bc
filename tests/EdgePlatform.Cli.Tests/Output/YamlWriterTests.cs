using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using EdgePlatform.Cli.Output;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace EdgePlatform.Cli.Tests.Output;

public sealed partial class YamlWriterTests
{
    [Theory]
    [InlineData("""{"id":"dev-1","tags":{"site":"berlin"},"slots":[{"name":"m","version":"3"}],"lastError":null,"desiredVersion":4}""")]
    [InlineData("""[{"a":1.5,"b":-2,"c":1E-05,"d":true,"e":false},{"a":[],"b":{},"c":[[1,2],[]],"d":[{"x":{"y":[1]}}]}]""")]
    [InlineData("""[]""")]
    [InlineData("""{}""")]
    [InlineData("\"just a string\"")]
    [InlineData("42")]
    public void FromJson_Document_ReadsBackAsTheSameData(string json)
    {
        AssertSameData(json, YamlWriter.FromJson(json));
    }

    [Theory]
    [InlineData("")]
    [InlineData("true")]
    [InlineData("No")]
    [InlineData("null")]
    [InlineData("~")]
    [InlineData("123")]
    [InlineData("1e3")]
    [InlineData("0x1F")]
    [InlineData(".inf")]
    [InlineData("2026-12-07T13:55:00+00:00")]
    [InlineData("a: b")]
    [InlineData("key:")]
    [InlineData("- item")]
    [InlineData("# comment")]
    [InlineData("&anchor")]
    [InlineData("*alias")]
    [InlineData("!tag")]
    [InlineData("{flow}")]
    [InlineData("[flow]")]
    [InlineData("it's \"quoted\"")]
    [InlineData("back\\slash")]
    [InlineData("line\nbreak\tand tab")]
    [InlineData(" leading and trailing ")]
    [InlineData("bell\u0007 and next-line\u0085")]
    [InlineData("pipe | and > fold")]
    [InlineData("h₂o → ± 日本")]
    [InlineData("sha256:0123abcd")]
    [InlineData("site=berlin and hw in (pi4,pi5)")]
    public void FromJson_AwkwardString_StaysThatString(string text)
    {
        var json = JsonSerializer.Serialize(new Dictionary<string, string> { [text] = text });

        AssertSameData(json, YamlWriter.FromJson(json));
    }

    [Fact]
    public void FromJson_NestedList_IsIndentedLikeKubectl()
    {
        var yaml = YamlWriter.FromJson("""[{"id":"dev-1","tags":{"site":"berlin"},"slots":[{"name":"m","state":"active"}]}]""");

        Assert.Equal(
            "- id: dev-1\n" +
            "  tags:\n" +
            "    site: berlin\n" +
            "  slots:\n" +
            "  - name: m\n" +
            "    state: active\n",
            yaml);
    }

    /// <summary>Parses the YAML with YamlDotNet and compares it node by node with the JSON, types included.</summary>
    internal static void AssertSameData(string json, string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        using var document = JsonDocument.Parse(json);
        Assert.Single(stream.Documents);
        AssertSame(document.RootElement, stream.Documents[0].RootNode, "$");
    }

    private static void AssertSame(JsonElement json, YamlNode yaml, string path)
    {
        switch (json.ValueKind)
        {
            case JsonValueKind.Object:
                var mapping = Assert.IsType<YamlMappingNode>(yaml);
                var properties = json.EnumerateObject().ToList();
                Assert.Equal(properties.Count, mapping.Children.Count);
                foreach (var (property, entry) in properties.Zip(mapping.Children))
                {
                    AssertString(property.Name, entry.Key, path);
                    AssertSame(property.Value, entry.Value, $"{path}.{property.Name}");
                }

                break;
            case JsonValueKind.Array:
                var sequence = Assert.IsType<YamlSequenceNode>(yaml);
                var items = json.EnumerateArray().ToList();
                Assert.Equal(items.Count, sequence.Children.Count);
                for (var i = 0; i < items.Count; i++)
                {
                    AssertSame(items[i], sequence.Children[i], $"{path}[{i}]");
                }

                break;
            case JsonValueKind.String:
                AssertString(json.GetString()!, yaml, path);
                break;
            case JsonValueKind.Number:
                var number = Assert.IsType<YamlScalarNode>(yaml);
                Assert.Equal(ScalarStyle.Plain, number.Style);
                Assert.Equal(json.GetDouble(), double.Parse(number.Value!, NumberStyles.Float, CultureInfo.InvariantCulture));
                break;
            default:
                var scalar = Assert.IsType<YamlScalarNode>(yaml);
                Assert.Equal(ScalarStyle.Plain, scalar.Style);
                Assert.Equal(json.ValueKind switch { JsonValueKind.True => "true", JsonValueKind.False => "false", _ => "null" }, scalar.Value);
                break;
        }
    }

    // A plain scalar that a YAML reader would resolve to a number, boolean or null is not a string.
    private static void AssertString(string expected, YamlNode yaml, string path)
    {
        var scalar = Assert.IsType<YamlScalarNode>(yaml);
        Assert.True(expected == scalar.Value, $"{path}: expected '{expected}', read '{scalar.Value}'");
        if (scalar.Style == ScalarStyle.Plain)
        {
            Assert.False(NotAString().IsMatch(scalar.Value!), $"{path}: '{scalar.Value}' is plain but would not read as a string");
        }
    }

    [GeneratedRegex(@"^(~|null|true|false|yes|no|on|off|y|n|[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+|[-+]?\.(inf|nan)|[0-9]{4}-[0-9]{2}-[0-9]{2}.*)?$", RegexOptions.IgnoreCase)]
    private static partial Regex NotAString();
}
