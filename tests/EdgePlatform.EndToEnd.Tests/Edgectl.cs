namespace EdgePlatform.EndToEnd.Tests;

/// <summary><c>edgectl</c> run as a user runs it: its own process, a wide terminal, stdout and stderr together.</summary>
public static class Edgectl
{
    public static Task<(int ExitCode, string Output)> RunAsync(params string[] arguments) =>
        BuiltProgram.RunAsync(typeof(EdgePlatform.Cli.CliException).Assembly.Location, arguments, Wait.Timeout);
}
