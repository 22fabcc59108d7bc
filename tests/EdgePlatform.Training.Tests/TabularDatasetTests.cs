using System.Globalization;
using System.Text;
using EdgePlatform.Contracts;

namespace EdgePlatform.Training.Tests;

public class TabularDatasetTests
{
    private static readonly string[] Features = ["temperature_c", "rpm"];

    [Fact]
    public void Load_EmptyFile_ThrowsSayingDatasetIsEmpty()
    {
        var ex = Assert.Throws<DatasetFormatException>(() => Load(string.Empty));

        Assert.StartsWith("The dataset is empty", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingLabelColumn_ThrowsNamingLabelColumnAndHeader()
    {
        var csv = Csv(60).Replace("anomaly", "fault", StringComparison.Ordinal);

        var ex = Assert.Throws<DatasetFormatException>(() => Load(csv));

        Assert.Equal("Label column 'anomaly' is not in the header; the columns are: machine_id, temperature_c, rpm, fault.", ex.Message);
        Assert.Equal("anomaly", ex.Column);
    }

    [Fact]
    public void Load_MissingFeatureColumn_ThrowsNamingFeatureColumn()
    {
        var ex = Assert.Throws<DatasetFormatException>(() =>
            TabularDataset.Load(Stream(Csv(60)), "anomaly", ["temperature_c", "pressure_bar"]));

        Assert.StartsWith("Feature column 'pressure_bar' is not in the header", ex.Message, StringComparison.Ordinal);
        Assert.Equal("pressure_bar", ex.Column);
    }

    [Fact]
    public void Load_NonNumericFeature_ThrowsWithColumnAndLineNumber()
    {
        // Line 1 is the header, so the third data row is line 4.
        var csv = Csv(60, (row, line) => row == 2 ? line.Replace(",1480,", ",fast,", StringComparison.Ordinal) : line);

        var ex = Assert.Throws<DatasetFormatException>(() => Load(csv));

        Assert.Equal("Line 4, column 'rpm': 'fast' is not a finite number (use '.' as the decimal separator).", ex.Message);
        Assert.Equal(4, ex.LineNumber);
        Assert.Equal("rpm", ex.Column);
    }

    [Fact]
    public void Load_DecimalComma_ThrowsWithLineNumber()
    {
        var csv = Csv(60, (row, line) => row == 0 ? line.Replace(",41.5,", ",\"41,5\",", StringComparison.Ordinal) : line);

        var ex = Assert.Throws<DatasetFormatException>(() => Load(csv));

        Assert.Equal("Line 2, column 'temperature_c': '41,5' is not a finite number (use '.' as the decimal separator).", ex.Message);
    }

    [Fact]
    public void Load_BadLabel_ThrowsWithLineNumberAndAllowedValues()
    {
        var csv = Csv(60, (row, line) => row == 9 ? line[..line.LastIndexOf(',')] + ",maybe" : line);

        var ex = Assert.Throws<DatasetFormatException>(() => Load(csv));

        Assert.Equal("Line 11, column 'anomaly': 'maybe' is not a label; use true/false or 1/0.", ex.Message);
        Assert.Equal(11, ex.LineNumber);
    }

    [Fact]
    public void Load_SingleClass_ThrowsSayingBothClassesAreNeeded()
    {
        var csv = Csv(60, (_, line) => line.Replace(",true", ",false", StringComparison.Ordinal));

        var ex = Assert.Throws<DatasetFormatException>(() => Load(csv));

        Assert.Equal("Every one of the 60 rows has anomaly = false; a binary classifier needs examples of both classes.", ex.Message);
    }

    [Fact]
    public void Load_TooFewRows_ThrowsWithCountAndMinimum()
    {
        var ex = Assert.Throws<DatasetFormatException>(() => Load(Csv(10)));

        Assert.StartsWith("The dataset has 10 rows; training needs at least 50", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_RowWithMissingField_ThrowsWithLineNumber()
    {
        var csv = Csv(60, (row, line) => row == 4 ? line[(line.IndexOf(',', StringComparison.Ordinal) + 1)..] : line);

        var ex = Assert.Throws<DatasetFormatException>(() => Load(csv));

        Assert.Equal("Line 6 has 3 fields but the header has 4.", ex.Message);
    }

    [Fact]
    public void Load_QuotedFieldsCrLfAndNumericLabels_ParsesEveryRow()
    {
        var csv = Csv(60, (row, line) => row == 0 ? "\"pump, north\",41.5,1480,1" : line.Replace(",true", ",1", StringComparison.Ordinal))
            .Replace("\n", "\r\n", StringComparison.Ordinal);

        var data = Load(csv);

        Assert.Equal(60, data.RowCount);
        Assert.True(data.GetLabel(0));
        Assert.Equal(41.5f, data.GetFeatures(0)["temperature_c"]);
        Assert.Equal(2, data.GetLineNumber(0));
    }

    [Fact]
    public void Profile_KnownValues_ReturnsMeanPopulationStdDevMinAndMax()
    {
        // temperature alternates 40 and 44, so mean 42 and standard deviation 2.
        var data = Load(Csv(60, (row, line) => line.Replace(",41.5,", row % 2 == 0 ? ",40," : ",44,", StringComparison.Ordinal)));

        var temperature = data.Profile().Single(b => b.Name == "temperature_c");

        Assert.Equal(new FeatureBaseline("temperature_c", 42, 2, 40, 44, [40, 40, 40, 40, 40, 44, 44, 44, 44]), temperature);
    }

    [Fact]
    public void Profile_ValuesOneToHundred_DecileEdgesCutTheDataIntoTenths()
    {
        var data = Load(Csv(100, (row, line) => line.Replace(",41.5,", $",{row + 1},", StringComparison.Ordinal)));

        var temperature = data.Profile().Single(b => b.Name == "temperature_c");

        Assert.Equal([10, 20, 30, 40, 50, 60, 70, 80, 90], temperature.DecileEdges!);
    }

    [Fact]
    public void Digest_AnyDataset_IsSha256OfTheRawBytes()
    {
        var csv = Csv(60);

        var data = Load(csv);

        Assert.Equal(ContentDigest.Compute(Encoding.UTF8.GetBytes(csv)), data.Digest);
    }

    [Fact]
    public async Task LoadAsync_SameBytes_MatchesLoad()
    {
        var csv = Csv(60);

        var data = await TabularDataset.LoadAsync(Stream(csv), "anomaly", Features, CancellationToken.None);

        Assert.Equal(Load(csv).Digest, data.Digest);
        Assert.Equal(60, data.RowCount);
    }

    private static TabularDataset Load(string csv) => TabularDataset.Load(Stream(csv), "anomaly", Features);

    private static MemoryStream Stream(string csv) => new(Encoding.UTF8.GetBytes(csv));

    /// <summary>A valid CSV with every fifth row anomalous; <paramref name="edit"/> breaks one row for a test.</summary>
    private static string Csv(int rows, Func<int, string, string>? edit = null)
    {
        var text = new StringBuilder("machine_id,temperature_c,rpm,anomaly\n");
        for (var row = 0; row < rows; row++)
        {
            var line = string.Create(CultureInfo.InvariantCulture, $"pump-{row % 3:D2},41.5,1480,{(row % 5 == 0 ? "true" : "false")}");
            text.Append(edit is null ? line : edit(row, line)).Append('\n');
        }

        return text.ToString();
    }
}
