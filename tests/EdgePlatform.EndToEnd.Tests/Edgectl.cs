namespace EdgePlatform.EndToEnd.Tests;

/// <summary><c>edgectl</c> run as a user runs it: its own process, a wide terminal, stdout and stderr together.</summary>
public static class Edgectl
{
    public static async Task<(int ExitCode, string Output)> RunAsync(params string[] arguments)
    {
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("exec");
        info.ArgumentList.Add(typeof(EdgePlatform.Cli.CliException).Assembly.Location);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["COLUMNS"] = "400";
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Wait.Timeout);
        return (process.ExitCode, await stdout + await stderr);
    }
}
