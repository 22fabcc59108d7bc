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

    [Fact]
    public void ParseRate_NoRateOption_IsNoRate()
    {
        Assert.Null(RolloutCommands.ParseRate(null, null, null, null, null));
    }

    [Fact]
    public void ParseRate_AllGivenWithOneTrigger_IsThatRate()
    {
        Assert.Equal(new RolloutRate(10, 2, 500, 50), RolloutCommands.ParseRate(10, 2, 500, 50, null));
        Assert.Equal(new RolloutRate(10, 1.5, 500, IncreaseAfterSucceeded: 20), RolloutCommands.ParseRate(10, 1.5, 500, null, 20));
    }

    [Theory]
    [InlineData(null, 2.0, 500, 50, null, "a rate needs --rate-base, --rate-factor and --rate-max together; missing --rate-base")]
    [InlineData(10, null, null, 50, null, "a rate needs --rate-base, --rate-factor and --rate-max together; missing --rate-factor, --rate-max")]
    [InlineData(10, 2.0, 500, null, null, "a rate needs exactly one of --rate-after-notified N (devices sent the version) or --rate-after-succeeded N (devices that reported it active)")]
    [InlineData(10, 2.0, 500, 5, 5, "a rate needs exactly one of --rate-after-notified N (devices sent the version) or --rate-after-succeeded N (devices that reported it active)")]
    public void ParseRate_Incomplete_SaysWhichOptionIsMissing(int? baseRate, double? factor, int? maxRate, int? afterNotified, int? afterSucceeded, string message)
    {
        var exception = Assert.Throws<CliException>(() => RolloutCommands.ParseRate(baseRate, factor, maxRate, afterNotified, afterSucceeded));

        Assert.Equal(message, exception.Message);
    }

    [Fact]
    public void DescribeRate_Running_ShowsTheCurrentRateAndTheSchedule()
    {
        var text = RolloutCommands.DescribeRate(new RolloutRate(10, 2, 100, 50), new RolloutRateProgress(40, DateTimeOffset.UnixEpoch, 12, 70, 30, 50));

        Assert.Equal("40/min now (base 10/min, x2 every 50 sent, max 100/min); 12 sent this minute, 70 in all", text);
    }

    [Fact]
    public void DescribeCounts_SeveralStates_InTheOrderADevicePassesThem()
    {
        var counts = new Dictionary<string, int>
        {
            [RolloutDeviceStates.Failed] = 2,
            [RolloutDeviceStates.Active] = 900,
            [RolloutDeviceStates.Downloading] = 40,
            [RolloutDeviceStates.Pending] = 0,
        };

        Assert.Equal("40 downloading, 900 active, 2 failed", RolloutCommands.DescribeCounts(counts));
        Assert.Equal("none selected yet", RolloutCommands.DescribeCounts(null));
    }
}
