using EdgePlatform.Agent.Http;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Scorer;

/// <summary>
/// <c>EdgePlatform.Agent scorer</c>: the Open Inference Protocol v2 over one model read from
/// <see cref="ScorerOptions.ModelDirectory"/>, with no cloud link, enrollment or local broker: the
/// process of a containerized model's image. <c>scorer health</c> checks a running one.
/// </summary>
public static class ScorerHost
{
    public const string Verb = "scorer";

    public const string HealthVerb = "health";

    /// <summary>Whether the command line asks for the scorer rather than the daemon.</summary>
    public static bool Handles(IReadOnlyList<string> args) =>
        args is [var first, ..] && string.Equals(first, Verb, StringComparison.Ordinal);

    /// <summary>Runs the scorer, or its health check, with the command line after <see cref="Verb"/>, until stopped; returns the process's exit code.</summary>
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args is [HealthVerb, .. var rest])
        {
            var configuration = WebApplication.CreateBuilder(Options(rest)).Configuration;
            var http = configuration.GetSection(InferenceHttpOptions.Section).Get<InferenceHttpOptions>() ?? new InferenceHttpOptions();
            return await ScorerHealth.CheckAsync(http, Console.Error, cancellationToken).ConfigureAwait(false);
        }

        await using var app = Build(args);
        try
        {
            await app.RunAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }
        catch (Exception ex) when (ex is OptionsValidationException or ScorerModelException)
        {
            // The message says what to fix; a stack trace would only bury it.
            await Console.Error.WriteLineAsync($"scorer: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    /// <summary>
    /// The scorer application, configured from <paramref name="args"/>, appsettings.json beside the
    /// executable and the environment; <paramref name="configure"/> adds to the builder before the
    /// scorer's services do.
    /// </summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(Options(args));
        configure?.Invoke(builder);
        builder.Services.AddScorer();
        var app = builder.Build();
        app.MapInferenceProtocolApi();
        return app;
    }

    /// <summary>
    /// The executable's own directory as content root: an image's working directory says nothing
    /// about where appsettings.json lies.
    /// </summary>
    private static WebApplicationOptions Options(string[] args) => new() { Args = args, ContentRootPath = AppContext.BaseDirectory };
}
