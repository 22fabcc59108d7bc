using System.IO.Compression;
using System.Text;
using EdgePlatform.Training.Data;

namespace EdgePlatform.Training.Tests.Data;

public sealed class InferenceTests
{
    [Fact]
    public void Csv_Inference_PicksEachKindFromTheSample()
    {
        var text = new StringBuilder("n,flag,when,colour,comment,digits,empty\n");
        for (var i = 0; i < 40; i++)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i * 1.5},{(i % 3 == 0 ? "Yes" : "no")},2024-01-{1 + (i % 28):D2},{(i % 2 == 0 ? "red" : "blue")},comment number {i},{i % 2},\n");
        }

        var (schema, rows) = TabularTestData.ReadText(text.ToString(), "kinds.csv");

        Assert.Equal(
            [ColumnKind.Numeric, ColumnKind.Boolean, ColumnKind.DateTime, ColumnKind.Categorical, ColumnKind.Text, ColumnKind.Numeric, ColumnKind.Text],
            schema.Columns.Select(c => c.Kind));
        Assert.Equal(1.0, rows[0][1]);
        Assert.Equal(0.0, rows[1][1]);
        TabularTestData.Close(new DateTimeOffset(2024, 1, 2, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), (double)rows[1][2]!);
        Assert.Null(rows[0][6]);
    }

    [Fact]
    public void Csv_CategoricalThresholds_AreConfigurable()
    {
        var text = "c\n" + string.Concat(Enumerable.Range(0, 10).Select(i => $"v{i % 4}\n"));

        Assert.Equal(ColumnKind.Categorical, TabularTestData.ReadText(text, "c.csv").Schema.Columns[0].Kind);
        Assert.Equal(ColumnKind.Text, TabularTestData.ReadText(text, "c.csv", new TabularReadOptions { CategoricalMaxDistinct = 3 }).Schema.Columns[0].Kind);
        Assert.Equal(ColumnKind.Text, TabularTestData.ReadText(text, "c.csv", new TabularReadOptions { CategoricalMaxDistinctFraction = 0.3 }).Schema.Columns[0].Kind);
    }

    [Fact]
    public void Csv_ZeroOneColumn_IsNumericUnlessOverriddenToBoolean()
    {
        const string text = "label\n0\n1\n1\n";

        Assert.Equal(ColumnKind.Numeric, TabularTestData.ReadText(text, "l.csv").Schema.Columns[0].Kind);
        var options = new TabularReadOptions { Overrides = new Dictionary<string, ColumnKind> { ["label"] = ColumnKind.Boolean } };
        var (schema, rows) = TabularTestData.ReadText(text, "l.csv", options);
        Assert.Equal(ColumnKind.Boolean, schema.Columns[0].Kind);
        Assert.Equal([0.0, 1.0, 1.0], rows.Select(r => r[0]));
    }

    [Fact]
    public void Csv_Overrides_TakePrecedenceAndIgnoreDropsTheColumn()
    {
        var options = new TabularReadOptions
        {
            Overrides = new Dictionary<string, ColumnKind> { ["id"] = ColumnKind.Ignore, ["code"] = ColumnKind.Text, ["value"] = ColumnKind.Categorical },
        };

        var (schema, rows) = TabularTestData.ReadText("id,code,value\n1,007,3\n2,010,4\n", "o.csv", options);

        Assert.Equal(["code", "value"], schema.Columns.Select(c => c.Name));
        Assert.Equal([ColumnKind.Text, ColumnKind.Categorical], schema.Columns.Select(c => c.Kind));
        Assert.Equal(["007", "3"], rows[0]);
    }

    [Fact]
    public void Parquet_OverrideStringToNumeric_ParsesOrNamesTheRow()
    {
        using var fixture = new MixedFixture();
        var options = new TabularReadOptions { Overrides = new Dictionary<string, ColumnKind> { ["site"] = ColumnKind.Numeric } };

        var error = Assert.Throws<DatasetFormatException>(() =>
        {
            using var reader = TabularFormats.Open(fixture.Path("mixed.parquet"), options);
            TabularTestData.ReadAll(reader);
        });

        Assert.Equal(1, error.LineNumber);
        Assert.Equal("site", error.Column);
        Assert.Contains("row 1, column 'site': 'north, upper' is not a number", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_MissingTokens_AreConfigurable()
    {
        const string text = "x\n1\nNA\n?\nnull\n\n-\n";

        // By default '-' is a value, so the column is not numeric; blank lines are skipped.
        Assert.Equal(ColumnKind.Text, TabularTestData.ReadText(text, "m.csv").Schema.Columns[0].Kind);

        var options = new TabularReadOptions { MissingTokens = ["-", "NA", "?", "null"] };
        var (schema, rows) = TabularTestData.ReadText(text, "m.csv", options);
        Assert.Equal(ColumnKind.Numeric, schema.Columns[0].Kind);
        Assert.Equal(5, rows.Count);
        Assert.Equal(1.0, rows[0][0]);
        Assert.All(rows.Skip(1), r => Assert.True(double.IsNaN((double)r[0]!)));
    }

    [Fact]
    public void Csv_DecimalComma_ReadsNumbersWithSemicolonDelimiter()
    {
        var options = new TabularReadOptions { Delimiter = ';', DecimalSeparator = ',' };

        var (schema, rows) = TabularTestData.ReadText("druck;name\n1,5;\"a;b\"\n-2,25e3;c\n", "de.csv", options);

        Assert.Equal(ColumnKind.Numeric, schema.Columns[0].Kind);
        TabularTestData.Close(1.5, (double)rows[0][0]!);
        TabularTestData.Close(-2250, (double)rows[1][0]!);
        Assert.Equal("a;b", rows[0][1]);
    }

    [Fact]
    public void Options_DecimalCommaWithCommaDelimiter_IsRefused()
    {
        var options = new TabularReadOptions { DecimalSeparator = ',' };

        Assert.Throws<ArgumentException>(() => TabularTestData.ReadText("a\n1\n", "x.csv", options));
    }

    [Fact]
    public void Csv_QuotedNewlinesAndDoubledQuotes_StayInsideTheField()
    {
        var (_, rows) = TabularTestData.ReadText("id,text\r\n1,\"two\r\nlines, and \"\"quotes\"\"\"\r\n2,plain\r\n", "q.csv");

        Assert.Equal(2, rows.Count);
        Assert.Equal("two\r\nlines, and \"quotes\"", rows[0][1]);
        Assert.Equal("plain", rows[1][1]);
    }

    [Fact]
    public void Csv_LineNumbersCountQuotedLineBreaks()
    {
        var options = new TabularReadOptions { InferenceRows = 1 };

        var error = TabularTestData.ReadError("id,note\n1,\"a\nb\nc\"\nx,d\n", "lines.csv", options);

        Assert.Equal(5, error.LineNumber);
        Assert.Equal("id", error.Column);
    }

    [Fact]
    public void Csv_RecordsLongerThanTheBuffer_AreReadWhole()
    {
        var big = new string('x', 3_000_000);
        var (_, rows) = TabularTestData.ReadText($"a,b\n\"{big}\",1\nshort,2\n", "big.csv");

        Assert.Equal(big, rows[0][0]);
        Assert.Equal("short", rows[1][0]);
    }

    [Fact]
    public void Csv_ManyRows_StreamInBatchesWithFirstLine()
    {
        var text = "v\n" + string.Concat(Enumerable.Range(0, 10_000).Select(i => $"{i}\n"));
        using var reader = TabularFormats.Open(new MemoryStream(Encoding.UTF8.GetBytes(text)), "many.csv", new TabularReadOptions { BatchSize = 4096 });

        var sizes = new List<(int Rows, long FirstLine)>();
        double sum = 0;
        while (reader.ReadBatch() is { } batch)
        {
            sizes.Add((batch.RowCount, batch.FirstLine));
            sum += batch.Numbers[0]!.AsSpan(0, batch.RowCount).ToArray().Sum();
        }

        Assert.Equal([(4096, 2L), (4096, 4098L), (1808, 8194L)], sizes);
        Assert.Equal(10_000 * 9_999 / 2.0, sum);
    }

    [Fact]
    public void Tsv_DecimalComma_NeedsNoOtherDelimiter()
    {
        var (schema, rows) = TabularTestData.ReadText("a\tb\n1,5\tx\n", "t.tsv", new TabularReadOptions { DecimalSeparator = ',' });

        Assert.Equal(ColumnKind.Numeric, schema.Columns[0].Kind);
        Assert.Equal(1.5, rows[0][0]);
    }

    [Fact]
    public void Tsv_ByExtension_UsesTabs()
    {
        var (schema, rows) = TabularTestData.ReadText("a\tb\n1,5\tx y\n", "t.tsv");

        Assert.Equal(["a", "b"], schema.Columns.Select(c => c.Name));
        Assert.Equal("1,5", rows[0][0]);
    }

    [Fact]
    public void Csv_GzipByMagicBytes_IsDecompressed()
    {
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write("a,b\n1,x\n2,y\n"u8);
        }

        using var reader = TabularFormats.Open(new MemoryStream(compressed.ToArray()), "upload", new TabularReadOptions { Format = TabularFormat.Csv });
        var (_, rows) = TabularTestData.ReadAll(reader);

        Assert.Equal([[1.0, "x"], [2.0, "y"]], rows);
    }

    [Fact]
    public void JsonLines_MissingKeysNullsAndEscapes_AreRead()
    {
        var (schema, rows) = TabularTestData.ReadText("{\"a\": 1, \"s\": \"q\\\"uote\\u00e9\"}\n\n{\"s\": null}\n{\"a\": 2.5e1}\n", "j.jsonl");

        Assert.Equal(["a", "s"], schema.Columns.Select(c => c.Name));
        Assert.Equal(3, rows.Count);
        Assert.Equal("q\"uoteé", rows[0][1]);
        Assert.True(double.IsNaN((double)rows[1][0]!));
        Assert.Null(rows[1][1]);
        Assert.Equal(25.0, rows[2][0]);
    }

    [Fact]
    public void Arff_SparseRowsDatesAndQuotedNames_AreRead()
    {
        const string arff = """
            % sparse with a date
            @RELATION sparse
            @ATTRIBUTE 'first value' NUMERIC
            @attribute colour {red, 'dark blue'}
            @attribute note string
            @attribute seen DATE "dd/MM/yyyy HH:mm"
            @data
            {0 1.5, 1 'dark blue', 3 "02/03/2024 10:30"}
            {2 'it\'s here'}
            {1 ?} , {0.5}
            """;

        var (schema, rows) = TabularTestData.ReadText(arff, "sparse.arff");

        Assert.Equal(["first value", "colour", "note", "seen"], schema.Columns.Select(c => c.Name));
        Assert.Equal([ColumnKind.Numeric, ColumnKind.Categorical, ColumnKind.Text, ColumnKind.DateTime], schema.Columns.Select(c => c.Kind));
        Assert.Equal(1.5, rows[0][0]);
        Assert.Equal("dark blue", rows[0][1]);
        TabularTestData.Close(new DateTimeOffset(2024, 3, 2, 10, 30, 0, TimeSpan.Zero).ToUnixTimeSeconds(), (double)rows[0][3]!);
        Assert.Equal(0.0, rows[1][0]);
        Assert.Equal("red", rows[1][1]);
        Assert.Equal("it's here", rows[1][2]);
        Assert.Null(rows[2][1]);
    }
}
