using System.Diagnostics;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// A program built in this repository, run as a user runs it: <c>dotnet exec</c>, its own process,
/// a wide terminal, stdout and stderr together. A run past its deadline is killed with its children,
/// and the timeout names what it printed.
/// </summary>
public static class BuiltProgram
{
    public static async Task<(int ExitCode, string Output)> RunAsync(string assemblyPath, IEnumerable<string> arguments, TimeSpan deadline)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("exec");
        info.ArgumentList.Add(assemblyPath);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["COLUMNS"] = "400";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"{Path.GetFileName(assemblyPath)} {string.Join(' ', info.ArgumentList.Skip(2))} was still running after {deadline.TotalSeconds:0} s:\n{await stdout}{await stderr}");
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
