using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using EdgePlatform.Cli.Output;

namespace EdgePlatform.Cli;

/// <summary>Prints results as plain columns for people, or as one JSON or YAML document for scripts.</summary>
public static class Render
{
    public static void Json<T>(T value, JsonTypeInfo<T> type) => Console.Out.WriteLine(JsonSerializer.Serialize(value, type));

    /// <summary>The value as <c>-o json</c> or <c>-o yaml</c> writes it: the API's JSON shape either way.</summary>
    public static string Serialize<T>(OutputFormat format, T value, JsonTypeInfo<T> type)
    {
        var json = JsonSerializer.Serialize(value, type);
        return format == OutputFormat.Yaml ? YamlWriter.FromJson(json).TrimEnd('\n') : json;
    }

    public static void Document<T>(OutputFormat format, T value, JsonTypeInfo<T> type) => Console.Out.WriteLine(Serialize(format, value, type));

    /// <summary>
    /// A list command's whole output: the document for json and yaml, else the columns the format
    /// shows. An empty list says so on stderr, so a pipe reading stdout sees no rows rather than a word.
    /// </summary>
    public static int List<T>(ParseResult parse, IReadOnlyList<T> items, JsonTypeInfo<IReadOnlyList<T>> type, IReadOnlyList<Column<T>> columns)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var format = parse.Format();
        if (format.IsDocument())
        {
            Document(format, items, type);
        }
        else
        {
            Rows(format, columns, items);
        }

        return 0;
    }

    /// <summary>Rows under declared columns, for lists that are part of a larger document.</summary>
    public static void Rows<T>(OutputFormat format, IReadOnlyList<Column<T>> columns, IEnumerable<T> rows) =>
        Write(TableWriter.Format(columns, rows, format == OutputFormat.Wide));

    /// <summary>A small fixed table (a detail view, check results) that has no wide form.</summary>
    public static void Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows) =>
        Write(TableWriter.Format(headers, [.. rows]));

    private static void Write(string table)
    {
        if (table.Length == 0)
        {
            Console.Error.WriteLine("(none)");
        }
        else
        {
            Console.Out.Write(table);
        }
    }

    public static string Time(DateTimeOffset? value) =>
        value is { } time ? time.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "-";

    /// <summary>A time in a time series, without the year: <c>12-07 13:55:02</c>.</summary>
    public static string ShortTime(DateTimeOffset? value) =>
        value is { } time ? time.ToLocalTime().ToString("MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "-";

    /// <summary>A per-minute rollup's minute, without the year: <c>12-07 13:55</c>.</summary>
    public static string ShortMinute(DateTimeOffset? value) =>
        value is { } time ? time.ToLocalTime().ToString("MM-dd HH:mm", CultureInfo.InvariantCulture) : "-";

    /// <summary>How long ago, as kubectl's AGE column: <c>45s</c>, <c>12m</c>, <c>5h</c>, <c>3d</c>.</summary>
    public static string Age(DateTimeOffset? value) => Age(value, TimeProvider.System.GetUtcNow());

    public static string Age(DateTimeOffset? value, DateTimeOffset now)
    {
        if (value is not { } time)
        {
            return "-";
        }

        // A clock a little ahead of this one is not a negative age.
        var age = now - time < TimeSpan.Zero ? TimeSpan.Zero : now - time;
        return age switch
        {
            _ when age < TimeSpan.FromMinutes(1) => $"{(int)age.TotalSeconds}s",
            _ when age < TimeSpan.FromHours(1) => $"{(int)age.TotalMinutes}m",
            _ when age < TimeSpan.FromHours(48) => $"{(int)age.TotalHours}h",
            _ => $"{(int)age.TotalDays}d",
        };
    }

    public static string Number(double value, string format = "0.###") => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>A digest short enough for a column, <c>sha256:abcd1234…</c>; <c>-o wide</c> and the documents carry it whole.</summary>
    public static string ShortDigest(string? digest)
    {
        const int HexShown = 8;
        if (digest is null)
        {
            return "-";
        }

        var hex = digest.IndexOf(':', StringComparison.Ordinal) + 1;
        return digest.Length > hex + HexShown ? $"{digest[..(hex + HexShown)]}…" : digest;
    }
}
