using System.Buffers.Binary;
using EdgePlatform.Cli.Output;
using EdgePlatform.Contracts;
using SkiaSharp;

namespace EdgePlatform.Cli.Tests.Output;

public sealed class ExperimentChartTests : IDisposable
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"edgectl-charts-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public void Write_TwoMetrics_OnePngPerMetricNamedForIt()
    {
        var report = WithSecondMetric(SampleExperimentReports.Make(arms: 3));

        var paths = ExperimentChart.Write(report, _directory);

        Assert.Equal(
            [Path.Combine(_directory, "exp-7f3a-accuracy.png"), Path.Combine(_directory, "exp-7f3a-error-rate.png")],
            paths);
        Assert.Equal(2, Directory.GetFiles(_directory).Length);
        foreach (var path in paths)
        {
            AssertChart(File.ReadAllBytes(path));
        }
    }

    [Fact]
    public void Write_MissingDirectory_IsMade()
    {
        var nested = Path.Combine(_directory, "a", "b");

        var paths = ExperimentChart.Write(SampleExperimentReports.Make(arms: 2), nested);

        Assert.Equal(Path.Combine(nested, "exp-7f3a-accuracy.png"), Assert.Single(paths));
    }

    [Fact]
    public void Render_OneLook_DrawsTheIntervalAsAnErrorBar()
    {
        AssertChart(ExperimentChart.Render(SampleExperimentReports.Make(arms: 3, looks: 1), ExperimentMetricKinds.Accuracy));
    }

    [Fact]
    public void Render_NoHistoryYet_DrawsTheCurrentComparison()
    {
        var report = SampleExperimentReports.Make(arms: 2) with { History = [] };

        Assert.Equal([ExperimentMetricKinds.Accuracy], ExperimentChart.Metrics(report));
        AssertChart(ExperimentChart.Render(report, ExperimentMetricKinds.Accuracy));
    }

    [Fact]
    public void Render_DifferentEstimates_DrawDifferentCharts()
    {
        var report = SampleExperimentReports.Make(arms: 2);
        var shifted = report with { History = [.. report.History.Select(h => h with { Estimate = h.Estimate + 0.05, Lower = h.Lower + 0.05, Upper = h.Upper + 0.05 })] };

        Assert.NotEqual(ExperimentChart.Render(report, ExperimentMetricKinds.Accuracy), ExperimentChart.Render(shifted, ExperimentMetricKinds.Accuracy));
    }

    [Fact]
    public void Write_DirectoryIsAFile_RefusedNamingTheDirectory()
    {
        Directory.CreateDirectory(_directory);
        var file = Path.Combine(_directory, "not-a-directory");
        File.WriteAllText(file, "x");

        var exception = Assert.Throws<CliException>(() => ExperimentChart.Write(SampleExperimentReports.Make(arms: 2), Path.Combine(file, "charts")));

        Assert.StartsWith($"--chart-dir '{Path.Combine(file, "charts")}': cannot write charts there: ", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_ReadOnlyDirectory_RefusedNamingTheDirectory()
    {
        // Permissions do not stop root, so there a chart over a directory of the same name stands in for them.
        Directory.CreateDirectory(_directory);
        var blocked = Path.Combine(_directory, "blocked");
        Directory.CreateDirectory(blocked);
        if (OperatingSystem.IsWindows() || Environment.UserName == "root")
        {
            Directory.CreateDirectory(Path.Combine(blocked, "exp-7f3a-accuracy.png"));
        }
        else
        {
            File.SetUnixFileMode(blocked, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        }

        try
        {
            var exception = Assert.Throws<CliException>(() => ExperimentChart.Write(SampleExperimentReports.Make(arms: 2), blocked));

            Assert.StartsWith($"--chart-dir '{blocked}': cannot write charts there: ", exception.Message, StringComparison.Ordinal);
        }
        finally
        {
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(blocked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }
    }

    /// <summary>A PNG of the chart's size whose pixels are more than a blank canvas.</summary>
    private static void AssertChart(byte[] png)
    {
        Assert.Equal(PngSignature, png[..8]);
        Assert.True(png.Length > 10_000, $"a {png.Length}-byte PNG is too small to hold a chart with axes, labels and a legend");

        // IHDR is the first chunk: width and height, big-endian, after its length and type.
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(ExperimentChart.Width, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(ExperimentChart.Height, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));

        using var bitmap = SKBitmap.Decode(png);
        Assert.NotNull(bitmap);
        var colours = new HashSet<uint>();
        for (var y = 0; y < bitmap.Height; y += 4)
        {
            for (var x = 0; x < bitmap.Width; x += 4)
            {
                colours.Add((uint)bitmap.GetPixel(x, y));
            }
        }

        Assert.True(colours.Count > 10, $"only {colours.Count} colours: the chart is nearly blank");
    }

    private static ExperimentReport WithSecondMetric(ExperimentReport report) => report with
    {
        History =
        [
            .. report.History,
            .. report.History.Where(h => !h.Relative).Select(h => h with { Metric = "error-rate", Estimate = h.Estimate / 10, Lower = h.Lower / 10, Upper = h.Upper / 10 }),
        ],
    };
}
