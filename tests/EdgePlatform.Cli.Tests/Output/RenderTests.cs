namespace EdgePlatform.Cli.Tests.Output;

public sealed class RenderTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(59, "59s")]
    [InlineData(60, "1m")]
    [InlineData(3599, "59m")]
    [InlineData(3600, "1h")]
    [InlineData(47 * 3600, "47h")]
    [InlineData(48 * 3600, "2d")]
    [InlineData(-30, "0s")]
    public void Age_SecondsAgo_IsTheLargestWholeUnit(int secondsAgo, string expected)
    {
        Assert.Equal(expected, Render.Age(Now.AddSeconds(-secondsAgo), Now));
    }

    [Fact]
    public void Age_Never_IsADash()
    {
        Assert.Equal("-", Render.Age(null, Now));
    }

    [Theory]
    [InlineData("sha256:0123456789abcdef0123456789abcdef", "sha256:01234567…")]
    [InlineData("sha256:0123", "sha256:0123")]
    [InlineData(null, "-")]
    public void ShortDigest_KeepsTheAlgorithmAndEightHexDigits(string? digest, string expected)
    {
        Assert.Equal(expected, Render.ShortDigest(digest));
    }
}
