using System.Globalization;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Data;

namespace EdgePlatform.Training.Tests.Data;

/// <summary>
/// Real files from Debian's weka package (installed by tests/run.sh), read by the ARFF reader
/// and profiled, checked against figures computed independently: the data section split by hand
/// and summed with LINQ, and counts from pandas 1.5.3 (Debian python3-pandas) noted where used.
/// </summary>
public sealed class WekaDatasetProfileTests
{
    private const string Examples = "/usr/share/doc/weka/examples";

    [Fact]
    public void Profile_Diabetes_MatchesStatisticsOfTheParsedValues()
    {
        var path = Example("diabetes.arff");
        var (names, rows) = ParseArffData(path);

        var profile = ProfileFile(path, "class");

        Assert.Equal(768, profile.Rows);
        Assert.Equal(names, profile.Columns.Select(c => c.Name));
        for (var c = 0; c < 8; c++)
        {
            var values = rows.Select(r => double.Parse(r[c], CultureInfo.InvariantCulture)).ToArray();
            var column = profile.Columns[c];
            var mean = values.Average();
            var sd = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
            Assert.Equal("numeric", column.Kind);
            Assert.Equal(0, column.Missing);
            Assert.Equal(values.Distinct().Count(), column.Distinct);
            AssertClose(mean, column.Mean!.Value);
            AssertClose(sd, column.StdDev!.Value);
            Assert.Equal(values.Min(), column.Min);
            Assert.Equal(values.Max(), column.Max);
            var sorted = values.Order().ToArray();
            foreach (var quantile in column.Quantiles!)
            {
                // Ties are wide in these integer-valued columns: the value is right when its rank interval meets the target's error band.
                var below = (double)sorted.Count(v => v < quantile.Value) / sorted.Length;
                var atOrBelow = (double)sorted.Count(v => v <= quantile.Value) / sorted.Length;
                Assert.True(
                    below - profile.QuantileRankError <= quantile.Probability && quantile.Probability <= atOrBelow + profile.QuantileRankError,
                    $"{column.Name} p{quantile.Probability}: {quantile.Value} spans ranks {below:0.000}..{atOrBelow:0.000}");
            }
        }

        // pandas: d.describe() gives insu std 115.244002 and pedi mean 0.471876.
        Assert.Equal(115.244002, profile.Columns[4].StdDev!.Value, 1e-6);
        Assert.Equal(0.471876, profile.Columns[6].Mean!.Value, 1e-6);

        var label = profile.Label!;
        Assert.Equal([("tested_negative", 500L), ("tested_positive", 268L)], label.Classes.Select(c => (c.Value, c.Count)));
        Assert.Equal(0, profile.DuplicateRows);
    }

    [Fact]
    public void Profile_BreastCancer_CountsMissingValuesAndDuplicateRowsAsPandasDoes()
    {
        var path = Example("breast-cancer.arff");
        var (_, rows) = ParseArffData(path);

        var profile = ProfileFile(path, "Class");

        // pandas (na_values '?'): 286 rows, node-caps 8 missing, breast-quad 1, df.duplicated().sum() == 14.
        Assert.Equal(286, profile.Rows);
        Assert.Equal(8, profile.Columns.Single(c => c.Name == "node-caps").Missing);
        Assert.Equal(1, profile.Columns.Single(c => c.Name == "breast-quad").Missing);
        Assert.Equal(14, profile.DuplicateRows);
        Assert.True(profile.DuplicateRowsExact);

        // The same from the parsed lines: rows equal to an earlier one.
        Assert.Equal(rows.Count - rows.Select(r => string.Join('\u0001', r)).Distinct().Count(), profile.DuplicateRows);
        Assert.Equal(201, profile.Label!.Classes[0].Count);
        Assert.Equal(85.0 / 286, profile.Label.MinorityFraction, 12);
        Assert.Contains(profile.Warnings, w => w.Kind == ProfileWarningKinds.Duplicates);
    }

    private static DatasetProfile ProfileFile(string path, string label)
    {
        using var reader = TabularFormats.Open(path);
        return DatasetProfiler.Profile(reader, path, new DatasetProfileOptions { LabelColumn = label });
    }

    private static string Example(string name)
    {
        var path = Path.Combine(Examples, name);
        Assert.True(File.Exists(path), $"{path} is missing: install Debian's weka package (tests/run.sh does, or apt-get install weka)");
        return path;
    }

    /// <summary>Attribute names and the data lines split on commas, quotes stripped: enough for these files, which quote no commas.</summary>
    private static (List<string> Names, List<string[]> Rows) ParseArffData(string path)
    {
        var names = new List<string>();
        var rows = new List<string[]>();
        var inData = false;
        foreach (var raw in File.ReadLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('%'))
            {
                continue;
            }

            if (inData)
            {
                rows.Add([.. line.Split(',').Select(v => v.Trim().Trim('\''))]);
            }
            else if (line.StartsWith("@attribute", StringComparison.OrdinalIgnoreCase))
            {
                names.Add(line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1].Trim('\''));
            }
            else if (line.StartsWith("@data", StringComparison.OrdinalIgnoreCase))
            {
                inData = true;
            }
        }

        return (names, rows);
    }

    private static void AssertClose(double expected, double actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-9 * Math.Max(1, Math.Abs(expected)), $"expected {expected:R}, got {actual:R}");
}
