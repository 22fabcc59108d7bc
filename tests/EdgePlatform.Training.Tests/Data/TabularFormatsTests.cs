using System.IO.Compression;
using System.Security.Cryptography;
using EdgePlatform.Training.Data;

namespace EdgePlatform.Training.Tests.Data;

public sealed class TabularFormatsTests : IClassFixture<MixedFixture>
{
    private readonly MixedFixture _fixture;

    public TabularFormatsTests(MixedFixture fixture) => _fixture = fixture;

    [Theory]
    [InlineData("mixed.csv")]
    [InlineData("mixed.tsv")]
    [InlineData("mixed.parquet")]
    [InlineData("mixed.arrow")]
    [InlineData("mixed.arrows")]
    [InlineData("mixed.arff")]
    [InlineData("mixed.jsonl")]
    public void Open_MixedTableInEveryFormat_LoadsTheSameRowsAndKinds(string file)
    {
        // ARFF has no boolean type: the file declares {true, false}, a nominal, so the column is named boolean by an override.
        var options = new TabularReadOptions { BatchSize = 3 };
        if (file.EndsWith(".arff", StringComparison.Ordinal))
        {
            options.Overrides = new Dictionary<string, ColumnKind> { ["active"] = ColumnKind.Boolean };
        }

        using var reader = TabularFormats.Open(_fixture.Path(file), options);
        var (schema, rows) = TabularTestData.ReadAll(reader);

        Assert.Equal(["temperature", "site", "active", "measured_at", "note"], schema.Columns.Select(c => c.Name));
        Assert.Equal(
            [ColumnKind.Numeric, ColumnKind.Categorical, ColumnKind.Boolean, ColumnKind.DateTime, ColumnKind.Text],
            schema.Columns.Select(c => c.Kind));
        Assert.Equal(MixedFixture.Rows, rows.Count);
        for (var i = 0; i < MixedFixture.Rows; i++)
        {
            TabularTestData.Close(MixedFixture.Temperatures[i] ?? double.NaN, (double)rows[i][0]!);
            Assert.Equal(MixedFixture.Sites[i], rows[i][1]);
            Assert.Equal(MixedFixture.Active[i] ? 1.0 : 0.0, rows[i][2]);
            TabularTestData.Close(MixedFixture.Seconds(MixedFixture.MeasuredAt[i]), (double)rows[i][3]!);
            Assert.Equal(MixedFixture.Notes[i], rows[i][4]);
        }
    }

    [Fact]
    public void Open_ArffNominal_DeclaresItsCategories()
    {
        using var reader = TabularFormats.Open(_fixture.Path("mixed.arff"));

        var site = reader.Schema.Columns[reader.Schema.IndexOf("site")];
        Assert.Equal(ColumnKind.Categorical, site.Kind);
        Assert.Equal(["north, upper", "south", "east"], site.Categories);
    }

    [Theory]
    [InlineData("mixed.parquet", TabularFormat.Parquet)]
    [InlineData("mixed.arrow", TabularFormat.ArrowFile)]
    [InlineData("mixed.arrows", TabularFormat.ArrowStream)]
    public void Open_BinaryFormatUnderAnotherName_IsRecognisedByItsFirstBytes(string file, TabularFormat format)
    {
        using var reader = TabularFormats.Open(File.OpenRead(_fixture.Path(file)), "upload.bin");

        Assert.Equal(MixedFixture.Rows, TabularTestData.ReadAll(reader).Rows.Count);
        Assert.Null(TabularFormats.FormatFromName("upload.bin"));
        Assert.Equal(format, TabularFormats.FormatFromName(file));
    }

    [Theory]
    [InlineData("mixed.csv")]
    [InlineData("mixed.parquet")]
    [InlineData("mixed.arff")]
    [InlineData("mixed.jsonl")]
    public void Open_GzippedFile_IsReadThroughGzip(string file)
    {
        var gz = _fixture.Path(file + ".gz");
        using (var output = new GZipStream(File.Create(gz), CompressionLevel.Fastest))
        using (var input = File.OpenRead(_fixture.Path(file)))
        {
            input.CopyTo(output);
        }

        var options = new TabularReadOptions
        {
            Overrides = new Dictionary<string, ColumnKind> { ["active"] = ColumnKind.Boolean },
        };
        using var plain = TabularFormats.Open(_fixture.Path(file), options);
        using var compressed = TabularFormats.Open(gz, options);

        var expected = TabularTestData.ReadAll(plain);
        var actual = TabularTestData.ReadAll(compressed);
        Assert.Equal(expected.Schema.Columns.Select(c => (c.Name, c.Kind)), actual.Schema.Columns.Select(c => (c.Name, c.Kind)));
        Assert.Equal(expected.Schema.Columns.Select(c => c.Categories), actual.Schema.Columns.Select(c => c.Categories));
        Assert.Equal(expected.Rows, actual.Rows);
    }

    [Fact]
    public void WriteCsv_SameRowsFromDifferentFormatsAndBatchSizes_WritesTheSameBytes()
    {
        var digests = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (file, batchSize) in new[] { ("mixed.csv", 4096), ("mixed.csv", 1), ("mixed.parquet", 3), ("mixed.arrows", 2), ("mixed.jsonl", 5) })
        {
            using var reader = TabularFormats.Open(_fixture.Path(file), new TabularReadOptions { BatchSize = batchSize });
            using var output = new MemoryStream();
            Assert.Equal(MixedFixture.Rows, TabularWriter.WriteCsv(reader, output));
            digests.Add(Convert.ToHexString(SHA256.HashData(output.ToArray())));
        }

        Assert.Single(digests);
    }

    [Fact]
    public void WriteArrow_SameRowsInDifferentBatches_WritesTheSameBytesAndReadsBack()
    {
        // More rows than one record batch holds, so the writer's own batching shows.
        var text = new System.Text.StringBuilder("n,c,t,flag,when\n");
        for (var i = 0; i < 70_000; i++)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{(i % 7 == 0 ? "NA" : (i * 0.25).ToString(System.Globalization.CultureInfo.InvariantCulture))},c{i % 3},text {i},{i % 2 == 0},2024-01-01T00:00:{i % 60:D2}Z\n");
        }

        var csv = System.Text.Encoding.UTF8.GetBytes(text.ToString());
        var outputs = new List<byte[]>();
        foreach (var batchSize in new[] { 4096, 1000, 65_536 })
        {
            using var reader = TabularFormats.Open(new MemoryStream(csv), "big.csv", new TabularReadOptions { BatchSize = batchSize });
            using var output = new MemoryStream();
            Assert.Equal(70_000, TabularWriter.WriteArrow(reader, output));
            outputs.Add(output.ToArray());
        }

        Assert.All(outputs, o => Assert.Equal(outputs[0], o));

        using var fromCsv = TabularFormats.Open(new MemoryStream(csv), "big.csv");
        using var fromArrow = TabularFormats.Open(new MemoryStream(outputs[0]), "written.arrow");
        var expected = TabularTestData.ReadAll(fromCsv);
        var actual = TabularTestData.ReadAll(fromArrow);
        Assert.Equal(expected.Schema.Columns.Select(c => (c.Name, c.Kind)), actual.Schema.Columns.Select(c => (c.Name, c.Kind)));
        Assert.Equal(ColumnKind.Text, actual.Schema.Columns[2].Kind);
        Assert.Equal(expected.Rows, actual.Rows);
    }

    [Fact]
    public void WriteArrow_ArffNominal_KeepsItsCategories()
    {
        using var arff = TabularFormats.Open(_fixture.Path("mixed.arff"));
        using var output = new MemoryStream();
        TabularWriter.WriteArrow(arff, output);

        using var reread = TabularFormats.Open(new MemoryStream(output.ToArray()), "written.arrow");

        Assert.Equal(["north, upper", "south", "east"], reread.Schema.Columns[1].Categories);
        Assert.Equal(ColumnKind.Categorical, reread.Schema.Columns[2].Kind);
    }

    [Fact]
    public void WriteCsv_ThenRead_GivesBackTheRowsAndKinds()
    {
        using var original = TabularFormats.Open(_fixture.Path("mixed.arrow"));
        using var csv = new MemoryStream();
        TabularWriter.WriteCsv(original, csv);

        using var reread = TabularFormats.Open(new MemoryStream(csv.ToArray()), "cleansed.csv");
        using var again = TabularFormats.Open(_fixture.Path("mixed.arrow"));
        var expected = TabularTestData.ReadAll(again);
        var actual = TabularTestData.ReadAll(reread);

        Assert.Equal(expected.Schema.Columns.Select(c => c.Kind), actual.Schema.Columns.Select(c => c.Kind));
        Assert.Equal(expected.Rows, actual.Rows);
    }
}
