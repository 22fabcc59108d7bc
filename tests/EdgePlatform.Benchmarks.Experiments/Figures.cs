using System.Globalization;
using System.Text;

namespace EdgePlatform.Benchmarks.Experiments;

internal sealed record Series(string Name, (double X, double Y)[] Points);

/// <summary>A line chart of a few series and one horizontal reference line.</summary>
internal sealed record Chart(string Title, string XLabel, string YLabel, Series[] Series, double Reference);

/// <summary>Plain SVG line charts, so the docs' figures need no plotting dependency.</summary>
internal static class Figures
{
    private const int Width = 640, Height = 400, Left = 70, Right = 20, Top = 40, Bottom = 60;
    private static readonly string[] Colours = ["#d62728", "#1f77b4", "#2ca02c"];

    public static void Write(string path, Chart chart)
    {
        var xMax = chart.Series.SelectMany(s => s.Points).Max(p => p.X);
        var yMax = Math.Max(chart.Reference, chart.Series.SelectMany(s => s.Points).Max(p => p.Y));
        yMax = Math.Ceiling(yMax * 10 * 1.05) / 10;
        double X(double x) => Left + (x / xMax * (Width - Left - Right));
        double Y(double y) => Height - Bottom - (y / yMax * (Height - Top - Bottom));
        static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);

        var svg = new StringBuilder();
        svg.AppendLine(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.AppendLine(CultureInfo.InvariantCulture, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>");
        svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{Escape(chart.Title)}</text>");
        for (var i = 0; i <= 5; i++)
        {
            var yv = yMax * i / 5;
            svg.AppendLine(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{F(Y(yv))}\" y2=\"{F(Y(yv))}\" stroke=\"#ddd\"/>");
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{F(Y(yv) + 4)}\" text-anchor=\"end\">{F(yv)}</text>");
            var xv = xMax * i / 5;
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{F(X(xv))}\" y=\"{Height - Bottom + 16}\" text-anchor=\"middle\">{F(xv)}</text>");
        }

        svg.AppendLine(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{F(Y(chart.Reference))}\" y2=\"{F(Y(chart.Reference))}\" stroke=\"black\" stroke-dasharray=\"5,4\"/>");
        svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{Width - Right - 4}\" y=\"{F(Y(chart.Reference) - 4)}\" text-anchor=\"end\">{F(chart.Reference)}</text>");
        svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{(Left + Width - Right) / 2}\" y=\"{Height - 24}\" text-anchor=\"middle\">{Escape(chart.XLabel)}</text>");
        svg.AppendLine(CultureInfo.InvariantCulture, $"<text transform=\"translate(16,{(Top + Height - Bottom) / 2}) rotate(-90)\" text-anchor=\"middle\">{Escape(chart.YLabel)}</text>");
        for (var s = 0; s < chart.Series.Length; s++)
        {
            var series = chart.Series[s];
            var colour = Colours[s % Colours.Length];
            var points = string.Join(' ', series.Points.Select(p => $"{F(X(p.X))},{F(Y(p.Y))}"));
            svg.AppendLine(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{points}\"/>");
            svg.AppendLine(CultureInfo.InvariantCulture, $"<line x1=\"{Left + 10}\" x2=\"{Left + 30}\" y1=\"{Top + 8 + (s * 16)}\" y2=\"{Top + 8 + (s * 16)}\" stroke=\"{colour}\" stroke-width=\"2\"/>");
            svg.AppendLine(CultureInfo.InvariantCulture, $"<text x=\"{Left + 36}\" y=\"{Top + 12 + (s * 16)}\">{Escape(series.Name)}</text>");
        }

        svg.AppendLine("</svg>");
        File.WriteAllText(path, svg.ToString());
    }

    private static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
