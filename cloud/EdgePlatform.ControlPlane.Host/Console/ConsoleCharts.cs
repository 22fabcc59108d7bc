using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Html;

namespace EdgePlatform.ControlPlane.Host.Console;

/// <summary>One point of a line chart; <see cref="Lower"/> and <see cref="Upper"/> draw an interval band around it.</summary>
public readonly record struct ChartPoint(double X, double Y, double? Lower = null, double? Upper = null);

/// <summary>
/// Charts drawn on the server as inline SVG: they need no script, render with the page's first
/// paint, come along when a live region is swapped, and load nothing from elsewhere. Each carries
/// its figures in its accessible name, so a screen reader hears what the eye sees.
/// </summary>
public static class ConsoleCharts
{
    private const double Width = 640;
    private const double Height = 200;
    private const double Left = 56;
    private const double Right = 12;
    private const double Top = 12;
    private const double Bottom = 28;

    /// <summary>A line with an optional interval band and a dashed reference line (a threshold, or zero for a difference).</summary>
    public static IHtmlContent Line(string label, IReadOnlyList<ChartPoint> points, double? reference = null, string xLabel = "", Func<double, string>? formatX = null)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (points.Count == 0)
        {
            return new HtmlString($"<p class=\"empty\">{Encode(label)}: no data yet.</p>");
        }

        var values = points.SelectMany(p => new[] { p.Y, p.Lower ?? p.Y, p.Upper ?? p.Y }).Where(double.IsFinite).ToList();
        if (reference is { } r)
        {
            values.Add(r);
        }

        var (minY, maxY) = Range(values.Count == 0 ? [0] : values);
        var minX = points.Min(p => p.X);
        var maxX = points.Max(p => p.X);
        if (maxX <= minX)
        {
            maxX = minX + 1;
        }

        double Px(double x) => Left + ((x - minX) / (maxX - minX) * (Width - Left - Right));
        double Py(double y) => Top + ((maxY - y) / (maxY - minY) * (Height - Top - Bottom));

        var last = points[^1];
        var summary = last.Lower is { } lo && last.Upper is { } hi
            ? $"{label}: latest {Number(last.Y)} (interval {Number(lo)} to {Number(hi)}), {points.Count} points"
            : $"{label}: latest {Number(last.Y)}, {points.Count} points, from {Number(values.Min())} to {Number(values.Max())}";
        var svg = Open(label, summary);
        Axes(svg, minY, maxY, Py);
        var banded = points.Where(p => p.Lower is { } l && p.Upper is { } u && double.IsFinite(l) && double.IsFinite(u)).ToList();
        if (banded.Count > 0)
        {
            svg.Append("<polygon class=\"band\" points=\"");
            foreach (var p in banded)
            {
                svg.Append(Invariant($"{Px(p.X):F1},{Py(p.Upper!.Value):F1} "));
            }

            foreach (var p in Enumerable.Reverse(banded))
            {
                svg.Append(Invariant($"{Px(p.X):F1},{Py(p.Lower!.Value):F1} "));
            }

            svg.Append("\"/>");
        }

        if (reference is { } line)
        {
            svg.Append(Invariant($"<line class=\"reference\" x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{Py(line):F1}\" y2=\"{Py(line):F1}\"/>"));
        }

        svg.Append("<polyline class=\"series\" points=\"");
        foreach (var p in points.Where(p => double.IsFinite(p.Y)))
        {
            svg.Append(Invariant($"{Px(p.X):F1},{Py(p.Y):F1} "));
        }

        svg.Append("\"/>");
        foreach (var p in points.Where(p => double.IsFinite(p.Y)).TakeLast(200))
        {
            svg.Append(Invariant($"<circle class=\"point\" cx=\"{Px(p.X):F1}\" cy=\"{Py(p.Y):F1}\" r=\"2.5\"/>"));
        }

        var format = formatX ?? Number;
        svg.Append(Invariant($"<text class=\"tick\" x=\"{Left}\" y=\"{Height - 8}\">{Encode(format(minX))}</text>"));
        svg.Append(Invariant($"<text class=\"tick\" x=\"{Width - Right}\" y=\"{Height - 8}\" text-anchor=\"end\">{Encode(format(maxX))}</text>"));
        if (xLabel.Length > 0)
        {
            svg.Append(Invariant($"<text class=\"tick\" x=\"{(Left + Width - Right) / 2}\" y=\"{Height - 8}\" text-anchor=\"middle\">{Encode(xLabel)}</text>"));
        }

        return Close(svg);
    }

    /// <summary>Horizontal bars, one per label, scaled to the largest value.</summary>
    public static IHtmlContent Bars(string label, IReadOnlyList<(string Label, double Value)> bars)
    {
        ArgumentNullException.ThrowIfNull(bars);
        if (bars.Count == 0)
        {
            return new HtmlString($"<p class=\"empty\">{Encode(label)}: no data yet.</p>");
        }

        var max = Math.Max(bars.Max(b => b.Value), 1e-12);
        const double Row = 22;
        var height = Top + (bars.Count * Row) + 4;
        var summary = label + ": " + string.Join(", ", bars.Select(b => $"{b.Label} {Number(b.Value)}"));
        var svg = new StringBuilder();
        svg.Append(Invariant($"<figure class=\"chart\"><figcaption>{Encode(label)}</figcaption><svg class=\"chart\" viewBox=\"0 0 {Width} {height:F0}\" role=\"img\" aria-label=\"{Encode(summary)}\"><title>{Encode(summary)}</title>"));
        for (var i = 0; i < bars.Count; i++)
        {
            var y = Top + (i * Row);
            var length = Math.Max(0, bars[i].Value) / max * (Width - 200 - Right);
            svg.Append(Invariant($"<text class=\"tick\" x=\"4\" y=\"{y + 14:F1}\">{Encode(Truncate(bars[i].Label, 24))}</text>"));
            svg.Append(Invariant($"<rect class=\"bar\" x=\"150\" y=\"{y + 3:F1}\" width=\"{length:F1}\" height=\"{Row - 8}\"/>"));
            svg.Append(Invariant($"<text class=\"tick\" x=\"{150 + length + 6:F1}\" y=\"{y + 14:F1}\">{Encode(Number(bars[i].Value))}</text>"));
        }

        return Close(svg);
    }

    public static string Number(double value) =>
        !double.IsFinite(value) ? "–"
        : Math.Abs(value) >= 1000 || value == Math.Round(value) ? value.ToString("#,0.##", CultureInfo.InvariantCulture)
        : value.ToString("G4", CultureInfo.InvariantCulture);

    private static (double Min, double Max) Range(List<double> values)
    {
        var min = values.Min();
        var max = values.Max();
        if (max - min < 1e-12 * Math.Max(1, Math.Abs(max)))
        {
            var pad = Math.Max(Math.Abs(max) * 0.1, 1e-6);
            return (min - pad, max + pad);
        }

        var margin = (max - min) * 0.08;
        return (min - margin, max + margin);
    }

    private static StringBuilder Open(string label, string summary) =>
        new StringBuilder().Append(Invariant($"<figure class=\"chart\"><figcaption>{Encode(label)}</figcaption><svg class=\"chart\" viewBox=\"0 0 {Width} {Height}\" role=\"img\" aria-label=\"{Encode(summary)}\"><title>{Encode(summary)}</title>"));

    private static void Axes(StringBuilder svg, double minY, double maxY, Func<double, double> py)
    {
        svg.Append(Invariant($"<line class=\"axis\" x1=\"{Left}\" x2=\"{Left}\" y1=\"{Top}\" y2=\"{Height - Bottom}\"/>"));
        svg.Append(Invariant($"<line class=\"axis\" x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{Height - Bottom}\" y2=\"{Height - Bottom}\"/>"));
        foreach (var y in new[] { minY, (minY + maxY) / 2, maxY })
        {
            svg.Append(Invariant($"<text class=\"tick\" x=\"{Left - 6}\" y=\"{py(y) + 4:F1}\" text-anchor=\"end\">{Encode(Number(y))}</text>"));
        }
    }

    private static HtmlString Close(StringBuilder svg) => new(svg.Append("</svg></figure>").ToString());

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";

    private static string Encode(string text) => WebUtility.HtmlEncode(text);

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);
}
