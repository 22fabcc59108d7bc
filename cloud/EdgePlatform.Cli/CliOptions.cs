using System.CommandLine;
using EdgePlatform.Security.Pki;
using EdgePlatform.Cli.Output;

namespace EdgePlatform.Cli;

/// <summary>Options every command understands.</summary>
public static class CliOptions
{
    public const string DefaultServer = "http://127.0.0.1:5080";

    public static Option<string> Output { get; } = OutputOption();

    private static Option<string> OutputOption()
    {
        var option = new Option<string>("--output", "-o")
        {
            Description = "Output format: table (default: the columns that matter), wide (every column), json or yaml",
            DefaultValueFactory = _ => "table",
            Recursive = true,
        };
        option.CompletionSources.Add([.. OutputFormats.Names]);
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && !OutputFormats.TryParse(result.Tokens[^1].Value, out _))
            {
                result.AddError($"--output: '{result.Tokens[^1].Value}' is not an output format; use one of {string.Join(", ", OutputFormats.Names)}");
            }
        });
        return option;
    }

    public static Option<Uri> Server { get; } = UrlOption("--server", $"Control-plane URL (default: $EDGECTL_SERVER or {DefaultServer})", recursive: true,
        fallback: () => Environment.GetEnvironmentVariable("EDGECTL_SERVER") is { Length: > 0 } url ? url : DefaultServer);

    /// <summary>An absolute http(s) URL option; a bad value is a parse error naming the option, not a crash.</summary>
    public static Option<Uri> UrlOption(string name, string description, bool recursive = false, Func<string>? fallback = null)
    {
        var option = new Option<Uri>(name)
        {
            Description = description,
            Recursive = recursive,
            CustomParser = result =>
            {
                var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : fallback?.Invoke();
                if (text is null)
                {
                    return null;
                }

                if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
                {
                    return uri;
                }

                result.AddError($"{name} must be an absolute http:// or https:// URL, not '{text}'");
                return null;
            },
        };
        if (fallback is not null)
        {
            option.DefaultValueFactory = result => option.CustomParser!(result)!;
        }

        return option;
    }

    public static Option<string> Token { get; } = new("--token")
    {
        Description = "API token (default: $EDGECTL_TOKEN, or the one saved by 'edgectl login' for this server)",
        Recursive = true,
    };

    public static Option<string> CaFile { get; } = new("--ca-file")
    {
        Description = "CA certificate (PEM) the server's HTTPS certificate must chain to (default: $EDGECTL_CA_FILE; without it, the system's roots)",
        Recursive = true,
    };

    public static Option<string> CaFingerprint { get; } = new("--ca-fingerprint")
    {
        Description = "SHA-256 fingerprint the server prints at start, of its certificate or its CA (default: $EDGECTL_CA_FINGERPRINT)",
        Recursive = true,
    };

    public static bool IsJson(this ParseResult parse) => parse.Format() == OutputFormat.Json;

    public static OutputFormat Format(this ParseResult parse) =>
        OutputFormats.TryParse(parse.GetValue(Output), out var format) ? format : OutputFormat.Table;

    /// <summary>Whether the command writes its result as a document (json or yaml) rather than for people.</summary>
    public static bool IsDocument(this ParseResult parse) => parse.Format().IsDocument();

    public static ApiClient CreateApi(this ParseResult parse)
    {
        var server = parse.GetValue(Server)!;
        var token = parse.GetValue(Token)
            ?? (Environment.GetEnvironmentVariable("EDGECTL_TOKEN") is { Length: > 0 } fromEnvironment ? fromEnvironment : null)
            ?? Credentials.Load(server);
        return new ApiClient(server, token, parse.ServerPin());
    }

    /// <summary>The server's pin from <c>--ca-file</c> or <c>--ca-fingerprint</c> (or their variables); null when neither is given.</summary>
    public static ServerCertificatePin? ServerPin(this ParseResult parse)
    {
        try
        {
            return ServerCertificatePin.FromSettings(
                parse.GetValue(CaFile) ?? Environment.GetEnvironmentVariable("EDGECTL_CA_FILE"),
                parse.GetValue(CaFingerprint) ?? Environment.GetEnvironmentVariable("EDGECTL_CA_FINGERPRINT"),
                "--ca-file", "--ca-fingerprint");
        }
        catch (ArgumentException ex)
        {
            throw new CliException(ex.Message, ex);
        }
    }
}
