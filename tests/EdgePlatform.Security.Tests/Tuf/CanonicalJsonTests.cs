using System.Text;
using System.Text.Json;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.Security.Tests.Tuf;

public sealed class CanonicalJsonTests
{
    [Fact]
    public void Serialize_MembersInAnotherOrderWithWhiteSpace_GivesTheSameBytes()
    {
        var compact = Canonical("""{"version":2,"type":"targets","targets":{"b:1":{"length":10,"digest":"x"},"a:1":{"digest":"y","length":20}}}""");
        var formatted = Canonical("""
            {
              "type" : "targets",
              "targets" : {
                "a:1" : { "length" : 20, "digest" : "y" },
                "b:1" : { "digest" : "x", "length" : 10 }
              },
              "version" : 2
            }
            """);

        Assert.Equal(compact, formatted);
        Assert.Equal(
            """{"targets":{"a:1":{"digest":"y","length":20},"b:1":{"digest":"x","length":10}},"type":"targets","version":2}""",
            Encoding.UTF8.GetString(compact));
    }

    [Fact]
    public void Serialize_MemberNames_AreSortedByOrdinalNotByCulture()
    {
        Assert.Equal("""{"B":1,"a":2,"b":3}""", Encoding.UTF8.GetString(Canonical("""{"b":3,"a":2,"B":1}""")));
    }

    [Fact]
    public void Serialize_ArrayOrder_IsKept()
    {
        Assert.Equal("""{"channels":["production","canary"]}""", Encoding.UTF8.GetString(Canonical("""{ "channels": [ "production", "canary" ] }""")));
    }

    [Fact]
    public void Serialize_TheSameStringEscapedDifferently_GivesTheSameBytes()
    {
        Assert.Equal(Canonical("""{"name":"sensor"}"""), Canonical("""{"name":"\u0073ensor"}"""));
    }

    [Fact]
    public void Serialize_DifferentValues_GiveDifferentBytes()
    {
        Assert.NotEqual(Canonical("""{"version":1}"""), Canonical("""{"version":2}"""));
    }

    [Theory]
    [InlineData("""{"length":1.5}""")]
    [InlineData("""{"nested":{"versions":[1,2.25]}}""")]
    [InlineData("""{"length":1e30}""")]
    public void Serialize_NonIntegerNumber_ThrowsTufFormatException(string json)
    {
        var exception = Assert.Throws<TufFormatException>(() => Canonical(json));

        Assert.Contains("not an integer", exception.Message, StringComparison.Ordinal);
    }

    private static byte[] Canonical(string json)
    {
        using var document = JsonDocument.Parse(json);
        return CanonicalJson.Serialize(document.RootElement);
    }
}
