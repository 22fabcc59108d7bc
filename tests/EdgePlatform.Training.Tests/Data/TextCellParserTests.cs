using System.Globalization;
using System.Text;
using EdgePlatform.Training.Data;

namespace EdgePlatform.Training.Tests.Data;

public sealed class TextCellParserTests
{
    [Fact]
    public void TryParsePlainDecimal_RandomNumbers_MatchDoubleParseBitForBit()
    {
        var random = new Random(11);
        var checkedCount = 0;
        for (var i = 0; i < 200_000; i++)
        {
            var digits = random.Next(1, 20);
            var text = new StringBuilder(random.Next(3) == 0 ? "-" : string.Empty);
            var point = random.Next(digits + 1);
            for (var d = 0; d < digits; d++)
            {
                if (d == point && d > 0)
                {
                    text.Append('.');
                }

                text.Append((char)('0' + random.Next(10)));
            }

            var s = text.ToString();
            if (TextCellParser.TryParsePlainDecimal(Encoding.ASCII.GetBytes(s), (byte)'.', out var fast))
            {
                checkedCount++;
                Assert.Equal(BitConverter.DoubleToInt64Bits(double.Parse(s, CultureInfo.InvariantCulture)), BitConverter.DoubleToInt64Bits(fast));
            }
        }

        Assert.True(checkedCount > 100_000, $"only {checkedCount} numbers took the fast path");
    }

    [Theory]
    [InlineData("1e5")]
    [InlineData(" 1")]
    [InlineData("1.2.3")]
    [InlineData("")]
    [InlineData("-")]
    [InlineData("12345678901234567890")]
    [InlineData("Infinity")]
    public void TryParsePlainDecimal_AnythingElse_LeavesItToTheGeneralParser(string text) =>
        Assert.False(TextCellParser.TryParsePlainDecimal(Encoding.ASCII.GetBytes(text), (byte)'.', out _));

    [Fact]
    public void TryParsePlainDecimal_DecimalComma_UsesTheConfiguredSeparator()
    {
        Assert.True(TextCellParser.TryParsePlainDecimal("-12,5"u8, (byte)',', out var value));
        Assert.Equal(-12.5, value);
        Assert.False(TextCellParser.TryParsePlainDecimal("12.5"u8, (byte)',', out _));
    }
}
