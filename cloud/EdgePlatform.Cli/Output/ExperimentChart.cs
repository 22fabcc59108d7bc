using System.Globalization;
using EdgePlatform.Contracts;
using ScottPlot;

namespace EdgePlatform.Cli.Output;

/// <summary>
/// PNG charts of an experiment's report, one per metric: each arm's difference from the control at
/// every look (<see cref="ExperimentReport.History"/>), with its interval as a band (an error bar
/// where there is one look), a line at zero, and a legend per arm. Absolute differences are drawn
/// where the history has them, relative ones (in percent) otherwise.
/// </summary>
public static class ExperimentChart
{
    public const int Width = 1000;
    public const int Height = 560;

    /// <summary>The metrics a report has a chart for, in the order they first appear.</summary>
    public static IReadOnlyList<string> Metrics(ExperimentReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return [.. report.Comparisons.Select(c => c.Metric).Concat(report.History.Select(h => h.Metric)).Distinct(StringComparer.Ordinal)];
    }

    /// <summary>
    /// Writes <c>EXPERIMENT-METRIC.png</c> per metric into <paramref name="directory"/> (made if
    /// missing) and answers the paths; a directory that cannot be made or written to is a
    /// <see cref="CliException"/> naming it.
    /// </summary>
    public static IReadOnlyList<string> Write(ExperimentReport report, string directory)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(directory);
        var paths = new List<string>();
        try
        {
            Directory.CreateDirectory(directory);
            foreach (var metric in Metrics(report))
            {
                var path = Path.Combine(directory, $"{FileName(report.Experiment.Id)}-{FileName(metric)}.png");
                File.WriteAllBytes(path, Render(report, metric));
                paths.Add(Path.GetFullPath(path));
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--chart-dir '{directory}': cannot write charts there: {ex.Message}", ex);
        }

        return paths;
    }

    /// <summary>The chart of one metric as PNG bytes.</summary>
    public static byte[] Render(ExperimentReport report, string metric)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(metric);
        var looks = report.History.Where(h => h.Metric == metric).ToList();
        var relative = looks.Count > 0 && looks.All(h => h.Relative);
        var scale = relative ? 100.0 : 1.0;
        var control = report.Experiment.Arms.Count > 0 ? report.Experiment.Arms[0].Name : "control";
        var arms = report.Comparisons.Where(c => c.Metric == metric).Select(c => c.Arm)
            .Concat(looks.Select(h => h.Arm))
            .Distinct(StringComparer.Ordinal)
            .ToList();

        using var plot = new Plot();
        for (var i = 0; i < arms.Count; i++)
        {
            var arm = arms[i];
            var comparison = report.Comparisons.FirstOrDefault(c => c.Metric == metric && c.Arm == arm);
            var points = Points(report, looks, comparison, arm, relative);
            if (points.Count == 0)
            {
                continue;
            }

            var colour = Colors.Category10[i % Colors.Category10.Length];
            var xs = points.Select(p => p.At.UtcDateTime.ToOADate()).ToArray();
            var estimates = points.Select(p => p.Estimate * scale).ToArray();
            var interval = comparison is null
                ? "interval"
                : $"{Number(comparison.Level * 100)}% {(comparison.Sequential ? "confidence sequence" : "fixed-horizon interval")}";
            if (points.Count > 1)
            {
                var band = plot.Add.FillY(xs, [.. points.Select(p => p.Upper * scale)], [.. points.Select(p => p.Lower * scale)]);
                band.FillColor = colour.WithAlpha(0.2);
                band.LineColor = colour.WithAlpha(0.5);
                band.LegendText = $"{arm}: {interval}";
            }
            else
            {
                // The interval need not be symmetric (relative differences are not).
                var bar = plot.Add.ErrorBar(xs, estimates, [(points[0].Upper - points[0].Estimate) * scale]);
                bar.YErrorNegative = [(points[0].Estimate - points[0].Lower) * scale];
                bar.Color = colour;
                bar.LegendText = $"{arm}: {interval}";
            }

            var line = plot.Add.Scatter(xs, estimates);
            line.Color = colour;
            line.LegendText = $"{arm} − {control}";
        }

        var zero = plot.Add.HorizontalLine(0);
        zero.Color = Colors.Black;
        zero.LinePattern = LinePattern.Dashed;
        zero.LegendText = "no difference";

        plot.Axes.DateTimeTicksBottom();
        var what = relative ? "relative difference vs control (%)" : "absolute difference vs control";
        plot.Title($"{report.Experiment.Name}: {metric}, {what}, after {report.Looks} look(s)");
        plot.XLabel("time of look (UTC)");
        plot.YLabel($"{metric}: {what}");
        plot.ShowLegend(Edge.Right);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    // An arm without history yet is drawn at the report's own time from its current comparison.
    private static List<ComparisonLook> Points(ExperimentReport report, List<ComparisonLook> looks, MetricComparison? comparison, string arm, bool relative)
    {
        var points = looks.Where(h => h.Arm == arm && h.Relative == relative).OrderBy(h => h.At).ToList();
        if (points.Count == 0 && comparison is not null)
        {
            points.Add(relative
                ? new ComparisonLook(report.At, comparison.Metric, arm, comparison.RelativeDifference, comparison.RelativeLower, comparison.RelativeUpper, true)
                : new ComparisonLook(report.At, comparison.Metric, arm, comparison.AbsoluteDifference, comparison.AbsoluteLower, comparison.AbsoluteUpper, false));
        }

        return points;
    }

    private static string FileName(string text) =>
        string.Concat(text.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? c : '-'));

    private static string Number(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);
}
