namespace EdgePlatform.Cli.Output;

/// <summary>What <c>-o</c> asks for: aligned columns for people, or the whole document for scripts.</summary>
public enum OutputFormat
{
    /// <summary>The columns that matter, sized to fit 80 columns for typical values.</summary>
    Table,

    /// <summary>Every column, digests and times in full.</summary>
    Wide,

    /// <summary>The API's JSON document, unchanged.</summary>
    Json,

    /// <summary>The same document as JSON, written as YAML.</summary>
    Yaml,
}

public static class OutputFormats
{
    /// <summary>The <c>-o</c> values, in the order help and errors list them and <see cref="OutputFormat"/> declares them.</summary>
    public static IReadOnlyList<string> Names { get; } = ["table", "wide", "json", "yaml"];

    public static bool TryParse(string? text, out OutputFormat format)
    {
        var index = text is null ? -1 : Names.ToList().IndexOf(text.ToLowerInvariant());
        format = index < 0 ? OutputFormat.Table : (OutputFormat)index;
        return index >= 0;
    }

    public static bool IsDocument(this OutputFormat format) => format is OutputFormat.Json or OutputFormat.Yaml;
}
