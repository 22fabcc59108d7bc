using EdgePlatform.Training.Data;

namespace EdgePlatform.Training.Tests.Data;

/// <summary>Each kind of bad file names the file, the line (or row) and the column, and says what to fix.</summary>
public sealed class FormatErrorTests
{
    [Fact]
    public void Csv_RaggedRowShort_NamesLineAndFirstMissingColumn()
    {
        var error = TabularTestData.ReadError("a,b,c\n1,2,3\n4,5\n", "ragged.csv");

        Assert.Equal(3, error.LineNumber);
        Assert.Equal("c", error.Column);
        Assert.StartsWith("ragged.csv: line 3, column 'c':", error.Message, StringComparison.Ordinal);
        Assert.Contains("2 fields but the header has 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_RaggedRowLong_NamesLineAndExtraField()
    {
        var error = TabularTestData.ReadError("a,b\n1,2\n\"x\ny\",2\n3,4,5\n", "ragged.csv");

        // The quoted line break makes row 2 span lines 3-4, so the long row is line 5.
        Assert.Equal(5, error.LineNumber);
        Assert.Equal("field 3", error.Column);
        Assert.Contains("must be quoted", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_WrongTypeAfterInference_NamesFileLineColumnAndValue()
    {
        var rows = string.Concat(Enumerable.Range(0, 20).Select(i => $"{i},{i * 0.5}\n"));
        var error = TabularTestData.ReadError("id,reading\n" + rows + "21,high\n", "readings.csv", new TabularReadOptions { InferenceRows = 10 });

        Assert.Equal(22, error.LineNumber);
        Assert.Equal("reading", error.Column);
        Assert.StartsWith("readings.csv: line 22, column 'reading': 'high' is not a number", error.Message, StringComparison.Ordinal);
        Assert.Contains("inferred from the first 10 rows", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_SeveralBadValuesInALargeBatch_ReportsTheFirstInFileOrder()
    {
        // Enough cells that the batch is converted column by column in parallel.
        var text = new System.Text.StringBuilder("a,b,c,d\n");
        for (var i = 0; i < 20_000; i++)
        {
            var b = i == 15_000 ? "x" : "1";
            var d = i == 12_000 ? "y" : "2";
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i},{b},3,{d}\n");
        }

        var error = TabularTestData.ReadError(text.ToString(), "many.csv", new TabularReadOptions { BatchSize = 20_000 });

        Assert.Equal(12_002, error.LineNumber);
        Assert.Equal("d", error.Column);
    }

    [Fact]
    public void Csv_UnterminatedQuote_NamesTheLineWhereTheQuoteOpens()
    {
        var error = TabularTestData.ReadError("a,b\n1,2\n3,\"open\n4,5\n", "quote.csv");

        Assert.Equal(3, error.LineNumber);
        Assert.Equal("b", error.Column);
        Assert.Contains("never closed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_TextAfterClosingQuote_IsRefused()
    {
        var error = TabularTestData.ReadError("a,b\n1,\"x\"y\n", "quote.csv");

        Assert.Equal(2, error.LineNumber);
        Assert.Equal("b", error.Column);
    }

    [Theory]
    [InlineData("empty.csv")]
    [InlineData("empty.tsv")]
    [InlineData("empty.jsonl")]
    [InlineData("empty.arff")]
    [InlineData("empty.parquet")]
    [InlineData("empty.arrow")]
    public void Open_EmptyFile_SaysItIsEmpty(string name)
    {
        var error = TabularTestData.ReadError(string.Empty, name);

        Assert.StartsWith(name + ": ", error.Message, StringComparison.Ordinal);
        Assert.Contains("empty", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_HeaderOnly_ReadsNoRowsAsText()
    {
        var (schema, rows) = TabularTestData.ReadText("a,b\n", "header.csv");

        Assert.Equal([ColumnKind.Text, ColumnKind.Text], schema.Columns.Select(c => c.Kind));
        Assert.Empty(rows);
    }

    [Fact]
    public void Open_UnknownFormat_ListsTheKnownExtensions()
    {
        var error = TabularTestData.ReadError("some bytes", "data.xyz");

        Assert.StartsWith("data.xyz: cannot tell the format", error.Message, StringComparison.Ordinal);
        Assert.Contains(".parquet", error.Message, StringComparison.Ordinal);
        Assert.Null(error.LineNumber);
    }

    [Fact]
    public void Csv_DuplicateColumnName_IsRefused()
    {
        var error = TabularTestData.ReadError("a,b,a\n1,2,3\n", "dup.csv");

        Assert.Contains("'a' appears more than once", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_OverrideForUnknownColumn_NamesTheColumns()
    {
        var options = new TabularReadOptions { Overrides = new Dictionary<string, ColumnKind> { ["tmperature"] = ColumnKind.Numeric } };
        var error = TabularTestData.ReadError("temperature\n1\n", "typo.csv", options);

        Assert.Contains("'tmperature', which the file does not have; its columns are: temperature", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Arff_UnknownAttributeType_NamesLineAndAttribute()
    {
        var error = TabularTestData.ReadError("@relation r\n@attribute a numeric\n@attribute b complex\n@data\n1,2\n", "bad.arff");

        Assert.Equal(3, error.LineNumber);
        Assert.Equal("b", error.Column);
        Assert.StartsWith("bad.arff: line 3, column 'b': unknown attribute type 'complex'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Arff_MissingRelation_IsRefused()
    {
        var error = TabularTestData.ReadError("@attribute a numeric\n@data\n1\n", "bad.arff");

        Assert.Equal(1, error.LineNumber);
        Assert.Contains("@relation", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Arff_NoDataSection_IsRefused()
    {
        var error = TabularTestData.ReadError("@relation r\n@attribute a numeric\n", "bad.arff");

        Assert.Contains("ends before @data", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Arff_ValueNotDeclared_NamesLineColumnAndDeclaredValues()
    {
        var error = TabularTestData.ReadError("@relation r\n@attribute colour {red, green}\n@data\nred\n% comment\nblue\n", "bad.arff");

        Assert.Equal(6, error.LineNumber);
        Assert.Equal("colour", error.Column);
        Assert.Contains("'blue' is not one of the attribute's declared values {red, green}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Arff_WrongNumberOfValues_NamesTheLine()
    {
        var error = TabularTestData.ReadError("@relation r\n@attribute a numeric\n@attribute b numeric\n@data\n1,2\n3\n", "bad.arff");

        Assert.Equal(6, error.LineNumber);
        Assert.Equal("b", error.Column);
    }

    [Fact]
    public void Arff_NonNumericValue_NamesLineAndColumn()
    {
        var error = TabularTestData.ReadError("@relation r\n@attribute a numeric\n@data\n1\nx1\n", "bad.arff");

        Assert.Equal(5, error.LineNumber);
        Assert.Equal("a", error.Column);
    }

    [Fact]
    public void JsonLines_KeyAfterInference_NamesLineAndKey()
    {
        var lines = string.Concat(Enumerable.Range(0, 5).Select(i => $"{{\"a\": {i}}}\n"));
        var error = TabularTestData.ReadError(lines + "{\"a\": 5, \"b\": 1}\n", "late.jsonl", new TabularReadOptions { InferenceRows = 3 });

        Assert.Equal(6, error.LineNumber);
        Assert.Equal("b", error.Column);
        Assert.Contains("does not appear in the first 3 lines", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void JsonLines_InvalidJson_NamesTheLine()
    {
        var error = TabularTestData.ReadError("{\"a\": 1}\n{\"a\": 2,}\n", "bad.jsonl");

        Assert.Equal(2, error.LineNumber);
        Assert.StartsWith("bad.jsonl: line 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void JsonLines_NestedValue_IsRefused()
    {
        var error = TabularTestData.ReadError("{\"a\": 1, \"b\": [1, 2]}\n", "nested.jsonl");

        Assert.Equal(1, error.LineNumber);
        Assert.Equal("b", error.Column);
    }

    [Fact]
    public void Parquet_Corrupt_SaysItIsNotReadable()
    {
        var error = TabularTestData.ReadError("PAR1 this is not really parquet", "broken.parquet");

        Assert.StartsWith("broken.parquet: not a readable Parquet file", error.Message, StringComparison.Ordinal);
    }
}
