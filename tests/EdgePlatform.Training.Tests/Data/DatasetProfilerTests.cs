using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Data;

namespace EdgePlatform.Training.Tests.Data;

public sealed class DatasetProfilerTests
{
    private static readonly DataSchema MixedSchema = InMemoryReader.SchemaOf(
        ("temperature", ColumnKind.Numeric),
        ("pressure", ColumnKind.Numeric),
        ("site", ColumnKind.Categorical),
        ("label", ColumnKind.Categorical));

    [Fact]
    public void Profile_NumericColumn_MatchesStatisticsComputedDirectly()
    {
        var random = new Random(11);
        var rows = Enumerable.Range(0, 50_000).Select(i => new object?[]
        {
            i % 37 == 0 ? null : 20 + (random.NextDouble() * 15) + (random.NextDouble() * random.NextDouble() * 40),
            random.NextDouble() * 3,
            $"site-{random.Next(5)}",
            random.Next(4) == 0 ? "fault" : "ok",
        }).ToList();

        var profile = Profile(rows, MixedSchema);

        var temperatures = rows.Where(r => r[0] is not null).Select(r => (double)r[0]!).ToArray();
        var column = profile.Columns[0];
        Assert.Equal(50_000, profile.Rows);
        Assert.Equal(temperatures.Length, column.Count);
        Assert.Equal(rows.Count(r => r[0] is null), column.Missing);
        Assert.Equal("numeric", column.Kind);
        var mean = temperatures.Average();
        var sd = Math.Sqrt(temperatures.Sum(t => (t - mean) * (t - mean)) / (temperatures.Length - 1));
        AssertClose(mean, column.Mean!.Value);
        AssertClose(sd, column.StdDev!.Value);
        Assert.Equal(temperatures.Min(), column.Min);
        Assert.Equal(temperatures.Max(), column.Max);
        Assert.Equal(temperatures.Distinct().Count(), column.Distinct, tolerance: 0.03 * temperatures.Length);

        var sorted = temperatures.Order().ToArray();
        foreach (var quantile in column.Quantiles!)
        {
            var rank = (double)sorted.Count(t => t < quantile.Value) / sorted.Length;
            Assert.True(Math.Abs(rank - quantile.Probability) <= profile.QuantileRankError, $"p{quantile.Probability}: rank {rank}");
        }

        Assert.Equal(20, column.Histogram!.Count);
        Assert.Equal(column.Count, column.Histogram.Sum(b => b.Count));
        Assert.Equal(column.Min, column.Histogram[0].Lower);
        Assert.Equal(column.Max, column.Histogram[^1].Upper);
    }

    [Fact]
    public void Profile_ValuesFarFromZero_KeepsTheStandardDeviationAccurate()
    {
        // Naive sum-of-squares loses every digit here; Welford's update does not.
        var values = Enumerable.Range(0, 10_000).Select(i => 1e9 + (i % 10)).ToList();
        var schema = InMemoryReader.SchemaOf(("x", ColumnKind.Numeric));

        var column = Profile([.. values.Select(v => new object?[] { v })], schema).Columns[0];

        var mean = values.Select(v => v - 1e9).Average();
        var sd = Math.Sqrt(values.Sum(v => (v - 1e9 - mean) * (v - 1e9 - mean)) / (values.Count - 1));
        AssertClose(1e9 + mean, column.Mean!.Value);
        AssertClose(sd, column.StdDev!.Value, 1e-6);
    }

    [Fact]
    public void Profile_StringColumns_CountsDistinctTopValuesAndMissingExactly()
    {
        var rows = Enumerable.Range(0, 1_000).Select(i => new object?[]
        {
            (double)i, 1.0, i % 10 == 0 ? null : $"s{i % 4}", i < 950 ? "ok" : "fault",
        }).ToList();

        var profile = Profile(rows, MixedSchema);

        var site = profile.Columns[2];
        Assert.Equal(100, site.Missing);
        Assert.Equal(900, site.Count);
        Assert.Equal(4, site.Distinct);
        Assert.True(site.DistinctExact);
        Assert.Equal(rows.Where(r => r[2] is not null).GroupBy(r => (string)r[2]!).Max(g => g.Count()), site.TopValues[0].Count);
        Assert.Null(site.Mean);
        Assert.Null(site.Quantiles);

        var label = profile.Label!;
        Assert.Equal("label", label.Column);
        Assert.Equal(0.05, label.MinorityFraction, 12);
        Assert.Equal(["ok", "fault"], label.Classes.Select(c => c.Value));
        Assert.Contains(profile.Warnings, w => w.Kind == ProfileWarningKinds.ClassImbalance && w.Column == "label");
        Assert.Contains(profile.Warnings, w => w.Kind == ProfileWarningKinds.Constant && w.Column == "pressure");
    }

    [Fact]
    public void Profile_ManyDistinctValues_SwitchesToAnEstimateWithinItsError()
    {
        var schema = InMemoryReader.SchemaOf(("id", ColumnKind.Text), ("x", ColumnKind.Numeric));
        var rows = Enumerable.Range(0, 200_000).Select(i => new object?[] { $"id-{i % 150_000}", (double)(i % 80_000) }).ToList();

        var profile = Profile(rows, schema, new DatasetProfileOptions { DistinctExactLimit = 1_000 });

        Assert.False(profile.Columns[0].DistinctExact);
        Assert.Equal(150_000, profile.Columns[0].Distinct, tolerance: 150_000 * 4 * 0.0081);
        Assert.Equal(80_000, profile.Columns[1].Distinct, tolerance: 80_000 * 4 * 0.0081);
        Assert.False(profile.Columns[0].TopValuesExact);
    }

    [Fact]
    public void Profile_RepeatedRows_CountsDuplicatesExactly()
    {
        var rows = new List<object?[]>();
        for (var i = 0; i < 5_000; i++)
        {
            rows.Add([(double)i, i % 2 == 0 ? null : 1.5, $"s{i % 3}", "ok"]);
        }

        // 300 copies of earlier rows, one row three times more; missing values compare equal.
        for (var i = 0; i < 300; i++)
        {
            rows.Add([.. rows[i * 7]]);
        }

        rows.Add([.. rows[42]]);
        rows.Add([.. rows[42]]);
        rows.Add([.. rows[42]]);

        // Same values, different column: not a duplicate.
        rows.Add([1.0, 0.0, "s1", "ok"]);

        var profile = Profile(rows, MixedSchema);

        Assert.Equal(303, profile.DuplicateRows);
        Assert.True(profile.DuplicateRowsExact);
        Assert.Contains(profile.Warnings, w => w.Kind == ProfileWarningKinds.Duplicates);
    }

    [Fact]
    public void Profile_MoreDistinctRowsThanTheExactLimit_EstimatesDuplicatesFromASample()
    {
        var schema = InMemoryReader.SchemaOf(("x", ColumnKind.Numeric));
        var rows = Enumerable.Range(0, 200_000).Select(i => new object?[] { (double)(i % 150_000) }).ToList();

        var profile = Profile(rows, schema, new DatasetProfileOptions { DuplicateRowExactLimit = 10_000 });

        Assert.False(profile.DuplicateRowsExact);
        Assert.Equal(50_000, profile.DuplicateRows, tolerance: 50_000 * 0.15);
    }

    [Fact]
    public void Profile_CorrelatedColumns_ReportsThePairWithPearsonR()
    {
        var random = new Random(3);
        var rows = Enumerable.Range(0, 20_000).Select(_ =>
        {
            var x = random.NextDouble() * 100;
            return new object?[] { 1e6 + x, (2 * x) + (random.NextDouble() * 5), "a", "ok" };
        }).ToList();

        var profile = Profile(rows, MixedSchema);

        var pair = Assert.Single(profile.Correlations);
        Assert.Equal(("temperature", "pressure"), (pair.First, pair.Second));
        var xs = rows.Select(r => (double)r[0]!).ToArray();
        var ys = rows.Select(r => (double)r[1]!).ToArray();
        AssertClose(Pearson(xs, ys), pair.R, 1e-9);
        Assert.Contains(profile.Warnings, w => w.Kind == ProfileWarningKinds.Correlated && w.Column == "temperature,pressure");
    }

    [Fact]
    public void Profile_DeclaredRangeAndOutliers_AreCountedAndWarnedAbout()
    {
        var random = new Random(5);
        var rows = Enumerable.Range(0, 40_000).Select(i => new object?[]
        {
            i % 10 == 0 ? 500 + random.NextDouble() : random.NextDouble() * 10,
            random.NextDouble(),
            i % 2 == 0 ? "a" : "b",
            "ok",
        }).ToList();
        var options = new DatasetProfileOptions { DeclaredRanges = new Dictionary<string, DeclaredRange> { ["temperature"] = new(0, 100) } };

        var profile = Profile(rows, MixedSchema, options);

        var column = profile.Columns[0];
        Assert.Equal(4_000, column.OutsideDeclaredRange);
        Assert.Null(profile.Columns[1].OutsideDeclaredRange);

        // Exact IQR fences from the sorted values; the sketch may misplace up to its interval error.
        var sorted = rows.Select(r => (double)r[0]!).Order().ToArray();
        var q1 = sorted[(int)(0.25 * sorted.Length)];
        var q3 = sorted[(int)(0.75 * sorted.Length)];
        var exact = sorted.Count(v => v < q1 - (1.5 * (q3 - q1)) || v > q3 + (1.5 * (q3 - q1)));
        Assert.Equal(exact, column.Outliers!.Value, tolerance: 0.0165 * sorted.Length);
        Assert.Contains(profile.Warnings, w => w.Kind == ProfileWarningKinds.OutsideDeclaredRange && w.Column == "temperature");
        Assert.Contains(profile.Warnings, w => w.Kind == ProfileWarningKinds.HeavyOutliers && w.Column == "temperature");
    }

    [Fact]
    public void Profile_MostlyMissingAndNearConstantColumns_AreWarnedAbout()
    {
        var rows = Enumerable.Range(0, 10_000).Select(i => new object?[]
        {
            i % 3 == 0 ? (double)i : null, i % 200 == 0 ? 7.0 : 0.0, $"v{i}", "ok",
        }).ToList();

        var profile = Profile(rows, MixedSchema);

        var kinds = profile.Warnings.Select(w => (w.Kind, w.Column)).ToList();
        Assert.Contains((ProfileWarningKinds.ManyMissing, "temperature"), kinds);
        Assert.Contains((ProfileWarningKinds.NearConstant, "pressure"), kinds);
        Assert.Contains((ProfileWarningKinds.HighCardinality, "site"), kinds);
        Assert.DoesNotContain(kinds, k => k.Column == "label" && k.Kind != ProfileWarningKinds.Constant);
        Assert.All(profile.Warnings, w => Assert.False(string.IsNullOrWhiteSpace(w.Action)));
    }

    [Fact]
    public void Profile_NearConstantColumnPastTheExactLimit_IsStillFoundFromTheFrequentValueCounts()
    {
        // 99.5% zeros, the rest 5,000 distinct values: far past an exact limit of 1,000.
        var schema = InMemoryReader.SchemaOf(("reading", ColumnKind.Numeric));
        var rows = Enumerable.Range(0, 1_000_000).Select(i => new object?[] { i % 200 == 0 ? (double)(i / 200) + 1 : 0.0 }).ToList();

        var profile = Profile(rows, schema, new DatasetProfileOptions { DistinctExactLimit = 1_000, FrequentValueCounters = 100 });

        var column = profile.Columns[0];
        Assert.False(column.TopValuesExact);
        Assert.Equal("0", column.TopValues[0].Value);

        // Misra-Gries undercounts by at most n / (counters + 1).
        Assert.InRange(column.TopValues[0].Count, 995_000 - (1_000_000 / 101), 995_000);
        Assert.True(column.NearConstant);
        Assert.Equal(5_001, column.Distinct, tolerance: 5_001 * 4 * 0.0081);
    }

    [Fact]
    public void Profile_ReaderFailsMidway_ThrowsTheReadersErrorUnchanged()
    {
        using var reader = new FailingReader(MixedSchema, failOnBatch: 3);

        var error = Assert.Throws<DatasetFormatException>(() => DatasetProfiler.Profile(reader, "bad.csv"));

        Assert.Equal("bad.csv: line 302, column 'temperature': 'abc' is not a number", error.Message);
    }

    [Fact]
    public void Profile_ReportsProgressAfterEachBatch()
    {
        var rows = Enumerable.Range(0, 1_050).Select(i => new object?[] { (double)i, 0.0, "a", "ok" }).ToList();
        var reported = new List<long>();
        using var reader = new InMemoryReader(MixedSchema, rows, batchSize: 100);

        DatasetProfiler.Profile(reader, "rows", progress: new SynchronousProgress(reported.Add));

        Assert.Equal(11, reported.Count);
        Assert.Equal(1_050, reported[^1]);
    }

    [Fact]
    public void Profile_UnknownLabelColumn_NamesTheColumns()
    {
        using var reader = new InMemoryReader(MixedSchema, []);

        var error = Assert.Throws<DatasetFormatException>(() =>
            DatasetProfiler.Profile(reader, "data.csv", new DatasetProfileOptions { LabelColumn = "target" }));

        Assert.Contains("'target'", error.Message, StringComparison.Ordinal);
        Assert.Contains("temperature, pressure, site, label", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Profile_SerializesThroughTheContractsContext()
    {
        var rows = Enumerable.Range(0, 500).Select(i => new object?[] { (double)i, i % 2 == 0 ? double.PositiveInfinity : 1.0, "a", "ok" }).ToList();
        var profile = Profile(rows, MixedSchema);

        var json = JsonSerializer.Serialize(profile, ContractsJsonContext.Default.DatasetProfile);
        var back = JsonSerializer.Deserialize(json, ContractsJsonContext.Default.DatasetProfile)!;

        Assert.Equal(profile.Rows, back.Rows);
        Assert.Equal(250, back.Columns[1].Missing);
        Assert.Equal(profile.Columns[0].Quantiles, back.Columns[0].Quantiles);
        Assert.Contains("\"quantileRankError\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Profile_EmptyDataset_HasNoStatisticsAndNoWarnings()
    {
        using var reader = new InMemoryReader(MixedSchema, []);

        var profile = DatasetProfiler.Profile(reader, "empty.csv");

        Assert.Equal(0, profile.Rows);
        Assert.All(profile.Columns, c => Assert.Null(c.Mean));
        Assert.Empty(profile.Warnings);
    }

    private static DatasetProfile Profile(IReadOnlyList<object?[]> rows, DataSchema schema, DatasetProfileOptions? options = null)
    {
        using var reader = new InMemoryReader(schema, rows, batchSize: 257);
        options ??= schema.IndexOf("label") >= 0 ? new DatasetProfileOptions { LabelColumn = "label" } : null;
        if (options is not null && options.LabelColumn is null && schema.IndexOf("label") >= 0)
        {
            options = new DatasetProfileOptions
            {
                LabelColumn = "label",
                DeclaredRanges = options.DeclaredRanges,
                DistinctExactLimit = options.DistinctExactLimit,
                DuplicateRowExactLimit = options.DuplicateRowExactLimit,
            };
        }

        return DatasetProfiler.Profile(reader, "rows", options);
    }

    private static double Pearson(double[] x, double[] y)
    {
        var mx = x.Average();
        var my = y.Average();
        var cov = x.Zip(y).Sum(p => (p.First - mx) * (p.Second - my));
        return cov / Math.Sqrt(x.Sum(v => (v - mx) * (v - mx)) * y.Sum(v => (v - my) * (v - my)));
    }

    private static void AssertClose(double expected, double actual, double relative = 1e-9) =>
        Assert.True(
            Math.Abs(expected - actual) <= relative * Math.Max(1, Math.Abs(expected)),
            $"expected {expected:R}, got {actual:R}");

    private sealed class FailingReader(DataSchema schema, int failOnBatch) : ITabularReader
    {
        private readonly DataBatch _batch = new(schema, 100);
        private int _batches;

        public DataSchema Schema => schema;

        public DataBatch? ReadBatch(CancellationToken cancellationToken = default)
        {
            if (++_batches == failOnBatch)
            {
                throw new DatasetFormatException("bad.csv: line 302, column 'temperature': 'abc' is not a number", 302, "temperature");
            }

            _batch.RowCount = 100;
            for (var c = 0; c < schema.Columns.Count; c++)
            {
                if (_batch.Numbers[c] is { } numbers)
                {
                    Array.Fill(numbers, _batches);
                }
                else
                {
                    Array.Fill(_batch.Strings[c]!, "x");
                }
            }

            return _batch;
        }

        public void Dispose()
        {
        }
    }

    private sealed class SynchronousProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
