using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace EdgePlatform.Benchmarks.SweepQuality;

/// <summary>
/// The peer: peer_sklearn.py (beside this program) under Debian's python3 with python3-sklearn,
/// given the same file, budget, folds and parallelism. Its wall time is measured here, from
/// process start to exit, so interpreter and import time count against it as our start-up does.
/// </summary>
internal static class SklearnPeer
{
    public const string Python = "/usr/bin/python3";

    public static string Script => Path.Combine(AppContext.BaseDirectory, "peer_sklearn.py");

    /// <summary>Null when the peer can run here; otherwise why not, for the report.</summary>
    public static string? Unavailable()
    {
        if (!File.Exists(Python))
        {
            return $"{Python} is missing";
        }

        if (!File.Exists(Script))
        {
            return $"{Script} is missing from the build output";
        }

        using var process = Process.Start(new ProcessStartInfo(Python, ["-c", "import sklearn, scipy"]) { RedirectStandardError = true, UseShellExecute = false })!;
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? null : $"scikit-learn is not importable by {Python} (apt-get install python3-sklearn)";
    }

    public static async Task<SideResult> RunAsync(WekaDataset dataset, SweepBenchmarkSettings settings, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])[
            Script, dataset.Path,
            "--budget", settings.BudgetSeconds.ToString(CultureInfo.InvariantCulture),
            "--folds", settings.Folds.ToString(CultureInfo.InvariantCulture),
            "--jobs", settings.Parallel.ToString(CultureInfo.InvariantCulture)])
        {
            start.ArgumentList.Add(argument);
        }

        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        var output = await process.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        var wall = watch.Elapsed.TotalSeconds;
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith('{'));
        if (process.ExitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"{Script} {dataset.Path} exited {process.ExitCode}:\n{output}\n{await errors.ConfigureAwait(false)}");
        }

        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        var metric = root.GetProperty("metric").GetString();
        if (metric != dataset.Metric)
        {
            throw new InvalidOperationException($"{Script} scored {dataset.Name} by '{metric}', the sweep by '{dataset.Metric}': the two sides must report the same metric");
        }

        var parameters = root.GetProperty("params").EnumerateObject()
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Name}={p.Value.GetDouble():G4}"));
        return new SideResult(
            root.GetProperty("score").GetDouble(),
            root.GetProperty("fits").GetInt32(),
            Failed: 0,
            wall,
            $"HistGradientBoosting, {root.GetProperty("rounds").GetInt32()} halving rounds",
            $"scikit-learn {root.GetProperty("sklearn").GetString()} {string.Join(' ', parameters)}");
    }
}
