using System.Diagnostics;
using System.Text.Json;

namespace EdgePlatform.Agent.Tests.Scoring;

/// <summary>
/// Apache Arrow's JavaScript library (npm apache-arrow, pinned with its lock file in
/// <c>Scoring/ArrowJs</c>), run by Node.js to write event batches as a producer outside .NET
/// would. The package is installed with <c>npm ci</c> into the test's output folder once; tests
/// over it skip locally without node and npm, and fail under CI=true, where tests/run.sh installs them.
/// </summary>
internal static class ArrowJs
{
    public const string Missing = "Node.js and npm are not installed; tests/run.sh installs them (Debian's nodejs and npm).";

    private static readonly TimeSpan InstallPatience = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan RunPatience = TimeSpan.FromSeconds(60);
    private static readonly SemaphoreSlim Installing = new(1, 1);
    private static readonly string[] SystemDirectories = ["/usr/bin", "/usr/local/bin"];

    private static string Folder => Path.Combine(AppContext.BaseDirectory, "Scoring", "ArrowJs");

    /// <summary>Why a test over Arrow JS cannot run here, or null when it can (always under CI=true, where it runs and fails).</summary>
    public static string? SkipReason() =>
        !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase) && (Find("node") is null || Find("npm") is null)
            ? Missing
            : null;

    /// <summary>
    /// Writes <paramref name="rows"/> (objects with <c>id</c>, <c>temperature_c</c>,
    /// <c>vibration_mm_s</c>, <c>pressure_kpa</c> and <c>site</c>) as one Arrow IPC stream file,
    /// with the id column <c>dictionary</c>-encoded as tableFromArrays writes strings, or as
    /// <c>large-utf8</c>. Returns the file and the schema Arrow JS reports.
    /// </summary>
    public static async Task<(string Path, string Schema)> WriteEventsAsync(IEnumerable<object> rows, string idEncoding, string directory, CancellationToken cancellationToken)
    {
        await InstallAsync(cancellationToken);
        var input = Path.Combine(directory, $"rows-{idEncoding}.json");
        var output = Path.Combine(directory, $"events-{idEncoding}.arrow");
        await File.WriteAllTextAsync(input, JsonSerializer.Serialize(rows), cancellationToken);
        var (exitCode, printed) = await RunAsync(Require("node"), [Path.Combine(Folder, "write-events.mjs"), input, output, idEncoding], RunPatience, cancellationToken);
        return exitCode == 0 && File.Exists(output)
            ? (output, printed.Trim())
            : throw new InvalidOperationException($"write-events.mjs exited with {exitCode}: {printed}");
    }

    private static async Task InstallAsync(CancellationToken cancellationToken)
    {
        await Installing.WaitAsync(cancellationToken);
        try
        {
            // The lock file pins the version; an install of that version is kept between runs.
            var installed = Path.Combine(Folder, "node_modules", "apache-arrow", "package.json");
            using var pinned = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Folder, "package.json"), cancellationToken));
            var version = pinned.RootElement.GetProperty("dependencies").GetProperty("apache-arrow").GetString();
            if (File.Exists(installed) && await InstalledVersionAsync(installed, cancellationToken) == version)
            {
                return;
            }

            var (exitCode, printed) = await RunAsync(Require("npm"), ["ci", "--no-audit", "--no-fund"], InstallPatience, cancellationToken);
            if (exitCode != 0)
            {
                throw new InvalidOperationException($"npm ci in {Folder} exited with {exitCode}: {printed}");
            }
        }
        finally
        {
            Installing.Release();
        }
    }

    private static async Task<string?> InstalledVersionAsync(string packageJson, CancellationToken cancellationToken)
    {
        using var package = JsonDocument.Parse(await File.ReadAllTextAsync(packageJson, cancellationToken));
        return package.RootElement.GetProperty("version").GetString();
    }

    private static async Task<(int ExitCode, string Printed)> RunAsync(string binary, IEnumerable<string> arguments, TimeSpan patience, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Folder,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(patience);
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output + await error);
    }

    private static string Require(string tool) => Find(tool) ?? throw new InvalidOperationException($"{tool} is not installed. {Missing}");

    private static string? Find(string tool) =>
        SystemDirectories
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
            .Select(directory => Path.Combine(directory, tool))
            .FirstOrDefault(File.Exists);
}

/// <summary>A fact over Arrow JS: skipped locally without node and npm, failed under CI=true.</summary>
public sealed class ArrowJsFactAttribute : FactAttribute
{
    public ArrowJsFactAttribute() => Skip = ArrowJs.SkipReason();
}
