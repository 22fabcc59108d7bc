using EdgePlatform.Cli.Commands;
using EdgePlatform.Contracts;

namespace EdgePlatform.Cli.Tests.Commands;

public sealed class RolloutCommandsTests
{
    [Theory]
    [InlineData("10%:15m", 10.0, null, 900)]
    [InlineData("2.5%:90s", 2.5, null, 90)]
    [InlineData("50:2h", null, 50, 7200)]
    [InlineData("100%", 100.0, null, 0)]
    [InlineData("25:30", null, 25, 30)]
    public void ParseStage_Valid_ReadsSizeAndBake(string text, double? percent, int? count, int bakeSeconds)
    {
        Assert.Equal(new RolloutStage(percent, count, bakeSeconds), RolloutCommands.ParseStage(text));
    }

    [Theory]
    [InlineData("ten%:1m", "'ten%' is not a percentage such as 10%")]
    [InlineData("10x:1m", "'10x' is neither a percentage (10%) nor a device count (50)")]
    [InlineData("10%:1d", "'1d' is not a duration such as 90s, 15m or 2h")]
    [InlineData("-5:1m", "'-5' is neither a percentage (10%) nor a device count (50)")]
    public void ParseStage_Malformed_NamesTheStageAndThePart(string text, string problem)
    {
        var exception = Assert.Throws<CliException>(() => RolloutCommands.ParseStage(text));

        Assert.Equal($"--stage '{text}': {problem}", exception.Message);
    }

    [Fact]
    public void ParseDuration_Overflowing_IsRefusedNotWrapped()
    {
        var exception = Assert.Throws<CliException>(() => RolloutCommands.ParseDuration("9999999h", "--device-timeout"));

        Assert.StartsWith("--device-timeout: '9999999h'", exception.Message, StringComparison.Ordinal);
    }
}
