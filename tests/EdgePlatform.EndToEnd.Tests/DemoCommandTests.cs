using System.Diagnostics;
using System.Text.Json;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>The README's first command, run as a user runs it, judged by its JSON summary.</summary>
[Trait("Category", "EndToEnd")]
public sealed class DemoCommandTests
{
    [Fact]
    public async Task Demo_WithJsonOutput_EndsWithSummaryOfActiveDevicesScoredEventsAndTelemetry()
    {
        var dataDirectory = Directory.CreateTempSubdirectory("edgeplatform-demo-test-").FullName;
        var edgectl = typeof(EdgePlatform.Cli.CliException).Assembly.Location;
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "exec", edgectl, "demo", "-o", "json", "--events", "25", "--data-dir", dataDirectory })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);

        var output = await stdout;
        Assert.True(process.ExitCode == 0, $"demo exited {process.ExitCode}:\n{await stderr}\n{output}");
        var lastLine = output.TrimEnd().Split('\n')[^1];
        using var summary = JsonDocument.Parse(lastLine);
        var root = summary.RootElement;
        Assert.Equal(2, root.GetProperty("devices").GetInt32());
        Assert.Equal(2, root.GetProperty("devicesActive").GetInt32());
        Assert.Equal(50, root.GetProperty("eventsScored").GetInt64());
        Assert.Equal(2, root.GetProperty("telemetryDevices").GetInt32());
        Assert.StartsWith("sha256:", root.GetProperty("manifestDigest").GetString(), StringComparison.Ordinal);
        Directory.Delete(dataDirectory, recursive: true);
    }
}
