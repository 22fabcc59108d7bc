using System.CommandLine;

namespace EdgePlatform.Cli;

/// <summary>Options every command understands.</summary>
public static class CliOptions
{
    public const string DefaultServer = "http://127.0.0.1:5080";

    public static Option<string> Output { get; } = new Option<string>("--output", "-o")
    {
        Description = "Output format: table (default) or json",
        DefaultValueFactory = _ => "table",
        Recursive = true,
    }.AcceptOnlyFromAmong("table", "json");

    public static Option<Uri> Server { get; } = new("--server")
    {
        Description = $"Control-plane URL (default: $EDGECTL_SERVER or {DefaultServer})",
        DefaultValueFactory = _ => new Uri(Environment.GetEnvironmentVariable("EDGECTL_SERVER") is { Length: > 0 } url ? url : DefaultServer),
        Recursive = true,
    };

    public static bool IsJson(this ParseResult parse) => string.Equals(parse.GetValue(Output), "json", StringComparison.Ordinal);

    public static ApiClient CreateApi(this ParseResult parse) => new(parse.GetValue(Server)!);
}
