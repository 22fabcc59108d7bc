using System.Text;
using EdgePlatform.Training.Datasets;

namespace EdgePlatform.Training.Tests.Datasets;

public class SensorDatasetGeneratorTests
{
    [Fact]
    public void Write_DefaultRowsAndSeed_ReproducesShippedCsvExactly()
    {
        using var writer = new StringWriter();
        SensorDatasetGenerator.Write(writer, SensorDatasetGenerator.DefaultRows, SensorDatasetGenerator.DefaultSeed);

        using var shipped = new StreamReader(BuiltInDatasets.SensorAnomaly.Open(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        // Compared as text so a failure shows the first differing position, not two byte arrays.
        Assert.Equal(shipped.ReadToEnd(), writer.ToString());
    }

    [Fact]
    public void Write_TwoRows_WritesHeaderAndInvariantCultureRowsWithLineFeeds()
    {
        using var writer = new StringWriter();
        SensorDatasetGenerator.Write(writer, 2, seed: 1);

        var lines = writer.ToString().Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.Equal("timestamp,machine_id,temperature_c,vibration_mm_s,pressure_bar,rpm,current_a,anomaly", lines[0]);
        Assert.StartsWith("2025-03-01T00:00:00Z,pump-01,", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("2025-03-01T00:00:00Z,pump-02,", lines[2], StringComparison.Ordinal);
        Assert.Equal(8, lines[1].Split(',').Length);
        Assert.Equal(string.Empty, lines[3]);
        Assert.DoesNotContain('\r', writer.ToString());
    }

    [Fact]
    public void SensorAnomaly_Load_HasFourThousandRowsWithFiveToEightPercentAnomalies()
    {
        var data = BuiltInDatasets.SensorAnomaly.Load();

        Assert.Equal(4000, data.RowCount);
        Assert.InRange((double)data.PositiveCount / data.RowCount, 0.05, 0.08);
        Assert.Equal(["temperature_c", "vibration_mm_s", "pressure_bar", "rpm", "current_a"], data.FeatureColumns);
        Assert.Equal("anomaly", data.LabelColumn);
    }

    [Fact]
    public void SensorAnomaly_Profile_DescribesPlausiblePumpReadings()
    {
        var baseline = BuiltInDatasets.SensorAnomaly.Load().Profile().ToDictionary(b => b.Name);

        // Ranges a plant engineer would expect from centrifugal pumps on 4- and 2-pole motors.
        Assert.InRange(baseline["temperature_c"].Mean, 35, 75);
        Assert.InRange(baseline["vibration_mm_s"].Mean, 1, 4.5);
        Assert.InRange(baseline["pressure_bar"].Mean, 2, 8);
        Assert.InRange(baseline["rpm"].Min, 1400, 1500);
        Assert.InRange(baseline["rpm"].Max, 2900, 3000);
        Assert.InRange(baseline["current_a"].Mean, 10, 45);
    }

    [Fact]
    public void Get_UnknownName_ThrowsListingBuiltInDatasets()
    {
        var ex = Assert.Throws<ArgumentException>(() => BuiltInDatasets.Get("iris"));

        Assert.Contains("'iris'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("sensor-anomaly", ex.Message, StringComparison.Ordinal);
    }
}
