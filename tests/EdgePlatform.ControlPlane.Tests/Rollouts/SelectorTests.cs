using EdgePlatform.ControlPlane.Rollouts;

namespace EdgePlatform.ControlPlane.Tests.Rollouts;

public sealed class SelectorTests
{
    private static readonly Dictionary<string, string> BerlinPi4 = new() { ["site"] = "berlin", ["hw"] = "pi4" };
    private static readonly Dictionary<string, string> ParisPi5 = new() { ["site"] = "paris", ["hw"] = "pi5" };
    private static readonly Dictionary<string, string> Untagged = [];

    [Theory]
    [InlineData("site=berlin", true, false, false)]
    [InlineData("site==berlin", true, false, false)]
    [InlineData("site!=berlin", false, true, true)]
    [InlineData("site in (berlin, paris)", true, true, false)]
    [InlineData("site IN (rome)", false, false, false)]
    [InlineData("site=berlin,hw=pi4", true, false, false)]
    [InlineData("site=berlin and hw=pi5", false, false, false)]
    [InlineData("site=berlin or hw=pi5", true, true, false)]
    [InlineData("hw=pi5 or site=berlin and hw=pi4", true, true, false)]
    [InlineData("(hw=pi5 or site=berlin) and hw=pi4", true, false, false)]
    [InlineData("site=\"berlin\"", true, false, false)]
    [InlineData("hw!=pi4 and site!=berlin", false, true, true)]
    public void Matches_Expression_SelectsExpectedDevices(string text, bool berlin, bool paris, bool untagged)
    {
        var selector = Selector.Parse(text);

        Assert.Equal(berlin, selector.Matches(BerlinPi4));
        Assert.Equal(paris, selector.Matches(ParisPi5));
        Assert.Equal(untagged, selector.Matches(Untagged));
    }

    [Fact]
    public void Matches_ValueDiffersInCase_DoesNotMatch()
    {
        Assert.False(Selector.Parse("site=Berlin").Matches(BerlinPi4));
    }

    [Fact]
    public void Parse_QuotedValueWithSpacesAndComma_KeepsItWhole()
    {
        var selector = Selector.Parse("room=\"hall 2, east\"");

        Assert.True(selector.Matches(new Dictionary<string, string> { ["room"] = "hall 2, east" }));
        Assert.False(selector.Matches(new Dictionary<string, string> { ["room"] = "hall 2" }));
    }

    [Theory]
    [InlineData("", 1, "a condition such as site=berlin")]
    [InlineData("   ", 4, "a condition such as site=berlin")]
    [InlineData("site=", 6, "a value after '='")]
    [InlineData("site", 5, "'=', '!=' or 'in' after the key 'site'")]
    [InlineData("site=berlin and", 16, "a tag key or '('")]
    [InlineData("site=berlin or or hw=pi4", 16, "a tag key or '('")]
    [InlineData("site in berlin", 9, "'(' to start the list after 'in'")]
    [InlineData("site in (berlin paris)", 17, "',' or ')' in the list after 'in'")]
    [InlineData("site in ()", 10, "a value after '('")]
    [InlineData("(site=berlin", 13, "')' to close the '(' at position 1, or 'and', 'or'")]
    [InlineData("site=berlin)", 12, "end of input (this ')' closes nothing)")]
    [InlineData("site=berlin hw=pi4", 13, "'and', 'or', ',' or end of input")]
    [InlineData("site ! berlin", 6, "'!=' (a lone '!' is not an operator)")]
    [InlineData("site=berlin & hw=pi4", 13, "a tag key, a value, an operator (=, !=, in), and, or, a parenthesis or a comma")]
    public void Parse_Malformed_NamesPositionAndExpectation(string text, int position, string expected)
    {
        var exception = Assert.Throws<SelectorSyntaxException>(() => Selector.Parse(text));

        Assert.Equal(position, exception.Position);
        Assert.Equal(expected, exception.Expected);
        Assert.StartsWith($"at position {position}: expected {expected}, found ", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnterminatedString_SaysWhereItOpened()
    {
        var exception = Assert.Throws<SelectorSyntaxException>(() => Selector.Parse("site=\"berl"));

        Assert.Equal("a closing '\"' for the string opened at position 6", exception.Expected);
        Assert.Equal("end of input", exception.Found);
    }

    [Fact]
    public void Text_Parsed_KeepsOperatorSpelling()
    {
        Assert.Equal("site in (a,b)", Selector.Parse("  site in (a,b) ").Text);
    }

    [Fact]
    public void Parse_ThirtyThousandNestedParentheses_RefusedWithoutRecursing()
    {
        var text = new string('(', 30_000) + "site=berlin" + new string(')', 30_000);

        var ex = Assert.Throws<SelectorSyntaxException>(() => Selector.Parse(text));

        Assert.Contains($"expected a selector of at most {Selector.MaxLength} characters, found 60011 characters", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_OneLevelDeeperThanAllowed_RefusedNamingTheDepthLimitAndWhere()
    {
        var text = new string('(', Selector.MaxDepth + 1) + "site=berlin" + new string(')', Selector.MaxDepth + 1);

        var ex = Assert.Throws<SelectorSyntaxException>(() => Selector.Parse(text));

        Assert.Equal(Selector.MaxDepth + 1, ex.Position);
        Assert.Equal($"at position {Selector.MaxDepth + 1}: expected at most {Selector.MaxDepth} nested parentheses, found one more '('", ex.Message);
    }

    [Fact]
    public void Parse_TwoHundredThousandTerms_RefusedNamingTheLengthLimit()
    {
        var text = string.Join(',', Enumerable.Repeat("a=b", 200_000));

        var ex = Assert.Throws<SelectorSyntaxException>(() => Selector.Parse(text));

        Assert.Contains($"a selector of at most {Selector.MaxLength} characters, found {text.Length} characters", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Matches_LongestFlatSelector_EvaluatesEveryTermWithoutRecursingPerTerm()
    {
        // 1,024 conditions is the most MaxLength holds; a binary tree of them would recurse 1,024 deep per device.
        var text = string.Join(',', Enumerable.Repeat("a=b", (Selector.MaxLength + 1) / 4));
        var selector = Selector.Parse(text);

        Assert.True(selector.Matches(new Dictionary<string, string> { ["a"] = "b" }));
        Assert.False(selector.Matches(new Dictionary<string, string> { ["a"] = "c" }));
        var ors = Selector.Parse(string.Join(" or ", Enumerable.Repeat("a=c", 500).Append("a=b")));
        Assert.True(ors.Matches(new Dictionary<string, string> { ["a"] = "b" }));
        Assert.False(ors.Matches(new Dictionary<string, string> { ["a"] = "d" }));
    }

    [Fact]
    public void Parse_DeepestAllowedNesting_Matches()
    {
        var text = new string('(', Selector.MaxDepth) + "site=berlin" + new string(')', Selector.MaxDepth);

        Assert.True(Selector.Parse(text).Matches(new Dictionary<string, string> { ["site"] = "berlin" }));
    }
}
