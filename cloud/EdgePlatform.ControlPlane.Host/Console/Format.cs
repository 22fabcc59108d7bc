using System.Globalization;

namespace EdgePlatform.ControlPlane.Host.Console;

/// <summary>How the console writes times and figures: UTC, ISO-like, the same on every page.</summary>
public static class Format
{
    public static string When(DateTimeOffset? at) =>
        at is { } value ? value.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) : "–";

    public static string Number(double? value) => value is { } v ? ConsoleCharts.Number(v) : "–";

    public static string Percent(double? fraction) =>
        fraction is { } f && double.IsFinite(f) ? (f * 100).ToString("0.##", CultureInfo.InvariantCulture) + " %" : "–";

    public static string Abbreviate(string digest) => digest.Length > 19 ? digest[..19] + "…" : digest;
}
