using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.Training;

namespace EdgePlatform.Cli.Workers;

/// <summary>
/// <c>edgectl worker</c>: leases trials from the control plane, keeps their snapshots in a cache
/// named by digest, runs each trial in a child process (<c>edgectl trial run</c>) it can kill,
/// heartbeats while it runs, and reports the result. A worker killed outright loses only its
/// leases: the control plane queues their trials again when the leases expire.
/// </summary>
public sealed class TrialWorker(ApiClient api, string workerId, int slots, string cacheDirectory, TextWriter log)
{
    /// <summary>How long an idle slot waits before asking for work again.</summary>
    public static readonly TimeSpan IdlePause = TimeSpan.FromSeconds(1);

    private const int MaxLogChars = 64 * 1024;

    private readonly ConcurrentDictionary<string, SemaphoreSlim> _downloads = new(StringComparer.Ordinal);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(cacheDirectory);
        await log.WriteLineAsync($"worker {workerId}: {slots} slot(s), build {TrainingBuild.Current}, cache {cacheDirectory}, server {api.Server}").ConfigureAwait(false);
        await Task.WhenAll(Enumerable.Range(0, slots).Select(_ => SlotAsync(cancellationToken))).ConfigureAwait(false);
    }

    private async Task SlotAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TrialLease? lease;
            try
            {
                lease = await api.LeaseTrialAsync(new TrialLeaseRequest(workerId, TrainingBuild.Current, slots), cancellationToken).ConfigureAwait(false);
            }
            catch (CliException ex) when (ex.Message.StartsWith("409", StringComparison.Ordinal))
            {
                // A build the control plane refuses will not become acceptable by retrying.
                throw new CliException($"the control plane refused this worker: {ex.Message}", ex);
            }
            catch (CliException ex) when (!cancellationToken.IsCancellationRequested)
            {
                await log.WriteLineAsync($"lease failed ({ex.Message}); retrying").ConfigureAwait(false);
                lease = null;
            }

            if (lease is null)
            {
                await Task.Delay(IdlePause, cancellationToken).ConfigureAwait(false);
                continue;
            }

            await RunTrialAsync(lease, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RunTrialAsync(TrialLease lease, CancellationToken cancellationToken)
    {
        var name = $"{lease.SweepId}/{lease.Number} (attempt {lease.Attempt})";
        await log.WriteLineAsync($"trial {name}: {lease.Trainer} at fidelity {lease.Fidelity:0.###}").ConfigureAwait(false);
        var work = Path.Combine(Path.GetTempPath(), $"edgectl-trial-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        var started = Stopwatch.StartNew();
        var output = new StringBuilder();
        try
        {
            var data = await CachedDatasetAsync(lease.Dataset.Digest, cancellationToken).ConfigureAwait(false);
            var trialFile = Path.Combine(work, "trial.json");
            var resultFile = Path.Combine(work, "result.json");
            await File.WriteAllTextAsync(trialFile, JsonSerializer.Serialize(lease, ContractsJsonContext.Default.TrialLease), cancellationToken).ConfigureAwait(false);
            using var process = StartTrialProcess(trialFile, data, resultFile, output);
            using var heartbeats = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var stopReason = await HeartbeatUntilExitAsync(lease, process, heartbeats.Token).ConfigureAwait(false);
            if (stopReason is not null)
            {
                KillTree(process);
                await log.WriteLineAsync($"trial {name}: stopped after {started.Elapsed.TotalSeconds:0.0} s ({stopReason})").ConfigureAwait(false);
                return;
            }

            TrialRunResult? result = null;
            if (File.Exists(resultFile))
            {
                result = JsonSerializer.Deserialize(await File.ReadAllTextAsync(resultFile, cancellationToken).ConfigureAwait(false), ContractsJsonContext.Default.TrialRunResult);
            }

            result ??= new TrialRunResult(null, null, started.Elapsed.TotalSeconds, $"the trial process exited with code {process.ExitCode} without a result");
            var report = new TrialReport(workerId, lease.Attempt, result.Score, result.Metrics, result.DurationSeconds, Tail(output), result.Error);
            var reply = await api.ReportTrialAsync(lease.SweepId, lease.Number, report, cancellationToken).ConfigureAwait(false);
            await log.WriteLineAsync(
                $"trial {name}: {(result.Error is null ? $"score {result.Score:0.######}" : $"failed: {result.Error}")} in {result.DurationSeconds:0.0} s"
                + (reply.Accepted ? "" : $"; not recorded: {reply.Reason}")).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is CliException or IOException or InvalidDataException && !cancellationToken.IsCancellationRequested)
        {
            await log.WriteLineAsync($"trial {name}: {ex.Message}").ConfigureAwait(false);
            try
            {
                await api.ReportTrialAsync(
                    lease.SweepId, lease.Number, new TrialReport(workerId, lease.Attempt, null, null, started.Elapsed.TotalSeconds, Tail(output), ex.Message), cancellationToken).ConfigureAwait(false);
            }
            catch (CliException report)
            {
                await log.WriteLineAsync($"trial {name}: could not report the failure ({report.Message}); its lease will expire").ConfigureAwait(false);
            }
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
                // A killed child may still hold a file for a moment; the temp directory is cleaned by the OS.
            }
        }
    }

    /// <summary>Heartbeats until the process exits; the reason to stop when the server says so, else null.</summary>
    private async Task<string?> HeartbeatUntilExitAsync(TrialLease lease, Process process, CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromSeconds(Math.Clamp(lease.HeartbeatSeconds, 0.1, 60));
        var exited = process.WaitForExitAsync(cancellationToken);
        while (true)
        {
            var tick = Task.Delay(interval, cancellationToken);
            if (await Task.WhenAny(exited, tick).ConfigureAwait(false) == exited)
            {
                await exited.ConfigureAwait(false);
                return null;
            }

            try
            {
                var reply = await api.HeartbeatTrialAsync(lease.SweepId, lease.Number, new TrialHeartbeat(workerId, lease.Attempt), cancellationToken).ConfigureAwait(false);
                if (reply.Stop)
                {
                    return reply.Reason ?? "the server said stop";
                }
            }
            catch (CliException ex)
            {
                // A missed heartbeat is retried; the lease outlives several of them.
                await log.WriteLineAsync($"heartbeat for {lease.SweepId}/{lease.Number} failed: {ex.Message}").ConfigureAwait(false);
            }
        }
    }

    private static Process StartTrialProcess(string trialFile, string dataFile, string resultFile, StringBuilder output)
    {
        var info = TrialCommandLine();
        foreach (var argument in (string[])["trial", "run", "--trial", trialFile, "--data", dataFile, "--out", resultFile, "--parent-pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            info.ArgumentList.Add(argument);
        }

        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        var process = new Process { StartInfo = info };
        void Append(object? sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }

            lock (output)
            {
                output.AppendLine(e.Data);
                if (output.Length > 2 * MaxLogChars)
                {
                    output.Remove(0, output.Length - MaxLogChars);
                }
            }
        }

        process.OutputDataReceived += Append;
        process.ErrorDataReceived += Append;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>This same edgectl: the app host, or <c>dotnet edgectl.dll</c> when run through the muxer.</summary>
    private static ProcessStartInfo TrialCommandLine()
    {
        var processPath = Environment.ProcessPath ?? throw new CliException("cannot tell which executable this worker runs from");
        var info = new ProcessStartInfo(processPath);
        if (string.Equals(Path.GetFileNameWithoutExtension(processPath), "dotnet", StringComparison.Ordinal))
        {
            info.ArgumentList.Add(typeof(TrialWorker).Assembly.Location);
        }

        return info;
    }

    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // It exited on its own in between.
        }
    }

    private static string Tail(StringBuilder output)
    {
        lock (output)
        {
            return output.Length > MaxLogChars ? output.ToString(output.Length - MaxLogChars, MaxLogChars) : output.ToString();
        }
    }

    /// <summary>The snapshot's file in the cache, downloaded once and checked against its digest.</summary>
    private async Task<string> CachedDatasetAsync(string digest, CancellationToken cancellationToken)
    {
        if (!ContentDigest.IsValid(digest))
        {
            throw new InvalidDataException($"the server sent a malformed dataset digest '{digest}'");
        }

        var path = Path.Combine(cacheDirectory, ContentDigest.Hex(digest));
        var gate = _downloads.GetOrAdd(digest, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (File.Exists(path))
            {
                return path;
            }

            var partial = path + $".{Environment.ProcessId}.partial";
            var file = File.Create(partial);
            await using (file.ConfigureAwait(false))
            {
                await api.DownloadDatasetAsync(digest, file, cancellationToken).ConfigureAwait(false);
                file.Position = 0;
                var actual = await ContentDigest.ComputeAsync(file, cancellationToken).ConfigureAwait(false);
                if (!string.Equals(actual, digest, StringComparison.Ordinal))
                {
                    file.Close();
                    File.Delete(partial);
                    throw new InvalidDataException($"the dataset downloaded for {digest} hashes to {actual}; refusing it");
                }
            }

            File.Move(partial, path, overwrite: true);
            await log.WriteLineAsync($"cached dataset {digest}").ConfigureAwait(false);
            return path;
        }
        finally
        {
            gate.Release();
        }
    }
}
