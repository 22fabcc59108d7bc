namespace EdgePlatform.FleetSim.Tests;

public sealed class SimulatorCommandTests
{
    [Theory]
    [InlineData("1000", 1000)]
    [InlineData("512KiB", 524_288)]
    [InlineData("2MB", 2_000_000)]
    [InlineData("1.5MiB/s", 1_572_864)]
    [InlineData("10 mib", 10_485_760)]
    public void ParseBandwidth_RateWithUnit_ReadsBytesPerSecond(string text, long bytesPerSecond)
    {
        Assert.Equal(bytesPerSecond, SimulatorCommand.ParseBandwidth(text));
    }

    [Theory]
    [InlineData("fast")]
    [InlineData("5TB")]
    [InlineData("MiB")]
    public void ParseBandwidth_NotARate_NamesTheOptionAndTheValue(string text)
    {
        var exception = Assert.Throws<SimulatorException>(() => SimulatorCommand.ParseBandwidth(text));

        Assert.Equal($"--bandwidth '{text}' is not a rate such as 512KiB, 2MB or 10MiB (per second)", exception.Message);
    }
}
