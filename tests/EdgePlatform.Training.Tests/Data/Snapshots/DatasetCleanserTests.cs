using System.Globalization;
using System.Text;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Data;
using EdgePlatform.Training.Data.Snapshots;

namespace EdgePlatform.Training.Tests.Data.Snapshots;

public sealed class DatasetCleanserTests
{
    [Fact]
    public void Apply_IqrClip_ClipsToTheFencesOfType7Quartiles()
    {
        // Values 1..8 and 100: Q1 = 3, Q3 = 7 (type 7), IQR 4, fences -3 and 13.
        const string csv = "x\n1\n2\n3\n4\n5\n6\n7\n8\n100\n";

        var output = Clean(csv, new CleansingRule("clip-outliers", ["x"], Method: "iqr"));

        Assert.Equal("x\n1\n2\n3\n4\n5\n6\n7\n8\n13\n", output);
    }

    [Fact]
    public void Apply_FillMissingMean_IsExactForLargeAndSmallValuesTogether()
    {
        // A naive running sum loses the 1s next to 1e16; the compensated one keeps them.
        var csv = "x,y\n1e16,a\n1,a\n1,a\n-1e16,a\n,a\n";

        var output = Clean(csv, new CleansingRule("fill-missing", ["x"], Strategy: "mean"));

        var filled = double.Parse(output.Split('\n')[5].Split(',')[0], CultureInfo.InvariantCulture);
        Assert.Equal(0.5, filled, 12);
    }

    [Fact]
    public void Apply_SameRulesTwice_WritesTheSameBytes()
    {
        var random = new Random(7);
        var csv = new StringBuilder("a,b,c\n");
        for (var i = 0; i < 5000; i++)
        {
            var a = random.NextDouble() < 0.1 ? string.Empty : (random.NextDouble() * 1000).ToString("R", CultureInfo.InvariantCulture);
            csv.Append(CultureInfo.InvariantCulture, $"{a},k{random.Next(5)},{random.Next(3)}\n");
        }

        CleansingRule[] rules =
        [
            new("drop-duplicates", ["b", "c"]),
            new("fill-missing", ["a"], Strategy: "median"),
            new("drop-outliers", ["a"], Method: "iqr", Factor: 1),
            new("cast", ["c"], Kind: "text"),
        ];

        var first = Clean(csv.ToString(), rules);

        Assert.Equal(first, Clean(csv.ToString(), rules));
        // One row per (b, c) pair survives the duplicates rule: at most 15 under the header.
        Assert.StartsWith("a,b,c\n", first, StringComparison.Ordinal);
        Assert.InRange(first.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length, 2, 16);
    }

    [Fact]
    public void Create_MeanOfATextColumn_IsRefusedNamingTheRule()
    {
        using var reader = TabularFormats.Open(new MemoryStream("x,s\n1,a\n2,a\n3,a\n"u8.ToArray()), "t.csv");

        var error = Assert.Throws<DatasetFormatException>(() =>
            DatasetCleanser.Create(reader.Schema, new CleansingRules([new CleansingRule("drop-missing"), new CleansingRule("fill-missing", ["s"], Strategy: "mean")])));

        Assert.StartsWith("rules[1].strategy: mean needs a numeric column; 's' is ", error.Message, StringComparison.Ordinal);
    }

    private static string Clean(string csv, params CleansingRule[] rules)
    {
        var bytes = Encoding.UTF8.GetBytes(csv);
        ITabularReader Open() => TabularFormats.Open(new MemoryStream(bytes), "test.csv");
        using var first = Open();
        var cleanser = DatasetCleanser.Create(first.Schema, new CleansingRules(rules));
        using var output = new MemoryStream();
        cleanser.Apply(Open, output, CancellationToken.None);
        return Encoding.UTF8.GetString(output.ToArray());
    }
}
