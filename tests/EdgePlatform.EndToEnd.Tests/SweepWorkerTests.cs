using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// Sweeps on real worker processes (<c>edgectl worker</c>) against a real control plane: a worker
/// killed with SIGKILL mid-trial loses only its lease, stopping a sweep kills its running trials
/// within seconds, a restarted control plane resumes its sweeps, and a worker of another build is
/// refused.
/// </summary>
[Trait("Category", "EndToEnd")]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the test class through IAsyncLifetime.DisposeAsync.")]
public sealed class SweepWorkerTests : IAsyncLifetime
{
    private static readonly TimeSpan SweepTimeout = TimeSpan.FromMinutes(4);

    private readonly string _root = Directory.CreateTempSubdirectory("edgeplatform-sweeps-").FullName;
    private readonly ProcessGroup _processes = new();
    private readonly Dictionary<string, HostProcess> _workers = new(StringComparer.Ordinal);
    private HostProcess _server = null!;
    private ApiClient _admin = null!;
    private string _workerToken = "";
    private readonly RestartableServer _control;

    public SweepWorkerTests() => _control = new RestartableServer(_processes, _root);

    public async Task InitializeAsync()
    {
        _server = await StartServerAsync();
        _workerToken = (await _admin.CreateTokenAsync(new CreateTokenRequest("sweep-workers", "worker"), default)).Token;
    }

    public async Task DisposeAsync()
    {
        _admin?.Dispose();
        await _processes.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A killed trial process may still be letting go of its files.
        }
    }

    [Fact]
    public async Task Sweep_TwoWorkersOneKilledWithSigkillMidTrial_EveryTrialRecordedOnceAndVersionRegistered()
    {
        StartWorker("w1");
        StartWorker("w2");
        var sweep = await _admin.SubmitSweepAsync(Spec(maxTrials: 8, concurrency: 2), default);

        // Kill w1 outright (SIGKILL, no chance to clean up) while it holds a running trial.
        var victim = await WaitForTrialAsync(sweep.Id, t => t.Status == TrialStatuses.Leased && t.WorkerId == "w1", "a trial running on w1");
        Kill("w1");

        var done = await WaitForEndAsync(sweep.Id);
        Assert.True(done.Status == SweepStatuses.Succeeded, $"sweep {done.Status}: {done.Error}\n{_server.LogTail(30)}");
        var trials = await _admin.AllTrialsAsync(sweep.Id, new Dictionary<string, string?>(), default);
        Assert.Equal(8, trials.Count);
        Assert.Equal(Enumerable.Range(1, 8), trials.Select(t => t.Number));
        Assert.All(trials, t => Assert.Contains(t.Status, (string[])[TrialStatuses.Succeeded, TrialStatuses.Failed]));
        Assert.Equal(8, done.Succeeded + done.Failed);

        // The killed worker's trial ran again on w2, as a second attempt, and only that result counts.
        var rerun = trials.Single(t => t.Number == victim.Number);
        Assert.Equal("w2", rerun.WorkerId);
        Assert.Equal(2, rerun.Attempt);
        Assert.All(trials, t => Assert.Equal(_expectedBuild.ToString(), t.WorkerBuild));

        Assert.NotNull(done.ModelVersion);
        var model = await _admin.GetModelAsync($"{done.ModelName}:{done.ModelVersion}", default);
        Assert.Equal(done.ManifestDigest, model.ManifestDigest);
    }

    [Fact]
    public async Task Stop_WhileTrialsRun_TheirProcessesEndWithinFiveSeconds()
    {
        StartWorker("w1");
        StartWorker("w2");
        // Many trees at full rows: trials that run long enough to be stopped mid-way.
        var sweep = await _admin.SubmitSweepAsync(Spec(maxTrials: 40, concurrency: 2) with { Folds = 10 }, default);
        await WaitForTrialAsync(sweep.Id, t => t.Status == TrialStatuses.Leased, "a running trial");
        var running = new List<int>();
        await Wait.UntilAsync(() => Task.FromResult((running = TrialProcesses()).Count > 0), "a trial process", SweepTimeout);

        var clock = Stopwatch.StartNew();
        var stopped = await _admin.StopSweepAsync(sweep.Id, default);
        Assert.Equal(SweepStatuses.Stopped, stopped.Status);
        while (running.Any(Alive) && clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(50);
        }

        var elapsed = clock.Elapsed;
        Assert.DoesNotContain(running, Alive);
        Assert.True(elapsed < TimeSpan.FromSeconds(5), $"trial processes ended {elapsed.TotalSeconds:0.00} s after the stop");
        var trials = await _admin.AllTrialsAsync(sweep.Id, new Dictionary<string, string?>(), default);
        Assert.DoesNotContain(trials, t => t.Status is TrialStatuses.Queued or TrialStatuses.Leased);
        Assert.False(_workers["w1"].HasExited || _workers["w2"].HasExited, "workers keep running after a stop");
    }

    [Fact]
    public async Task Restart_ControlPlaneKilledMidSweep_ResumesAndCompletes()
    {
        StartWorker("w1");
        var sweep = await _admin.SubmitSweepAsync(Spec(maxTrials: 6, concurrency: 1), default);
        await WaitForTrialAsync(sweep.Id, t => t.Status == TrialStatuses.Succeeded, "a recorded trial");

        _server.Kill();
        await _server.WaitForExitAsync(default);
        _server = await StartServerAsync();

        var done = await WaitForEndAsync(sweep.Id);
        Assert.True(done.Status == SweepStatuses.Succeeded, $"sweep {done.Status}: {done.Error}\n{_server.LogTail(30)}");
        var trials = await _admin.AllTrialsAsync(sweep.Id, new Dictionary<string, string?>(), default);
        Assert.Equal(Enumerable.Range(1, 6), trials.Select(t => t.Number));
        Assert.NotNull(done.ModelVersion);
    }

    [Fact]
    public async Task Lease_WorkerOfAnotherBuild_RefusedNamingBothBuilds()
    {
        using var http = new HttpClient { BaseAddress = _admin.Server };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _workerToken);
        var other = _expectedBuild with { MlNetVersion = "0.0.1-other" };
        using var response = await http.PostAsJsonAsync("api/v1/workers/lease", new TrialLeaseRequest("odd", other, 1), ContractsJsonContext.Default.TrialLeaseRequest);
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("0.0.1-other", body, StringComparison.Ordinal);
        Assert.Contains(_expectedBuild.MlNetVersion, body, StringComparison.Ordinal);

        // The worker token reaches the worker protocol only.
        using var sweeps = await http.GetAsync("api/v1/sweeps");
        Assert.Equal(HttpStatusCode.Forbidden, sweeps.StatusCode);
    }

    private readonly WorkerBuild _expectedBuild = EdgePlatform.Training.TrainingBuild.Current;

    private static SweepSpec Spec(int maxTrials, int concurrency) => new()
    {
        Dataset = "sensor-anomaly",
        Trainers = ["fasttree", "lightgbm"],
        MaxTrials = maxTrials,
        Folds = 2,
        Concurrency = concurrency,
        ModelName = "sweep-e2e",
    };

    private async Task<HostProcess> StartServerAsync()
    {
        var (server, endpoints) = await _control.StartAsync(
            $"--Server:MqttPort={_control.MqttPort}", "--Sweeps:LeaseSeconds=4", "--Sweeps:HeartbeatSeconds=0.5", "--Sweeps:SchedulerIntervalMilliseconds=100");
        _admin ??= await _control.AdminClientAsync(endpoints);
        return server;
    }

    private void StartWorker(string id) =>
        _workers[id] = _processes.Start(
            id,
            typeof(CliException).Assembly.Location,
            ["worker", "--server", _admin.Server.ToString(), "--token", _workerToken, "--id", id, "--cache", Path.Combine(_root, $"cache-{id}")],
            Path.Combine(_root, $"{id}.log"));

    /// <summary>SIGKILL to the worker alone: its trial process is orphaned and notices on its own.</summary>
    private void Kill(string id)
    {
        using var kill = Process.Start("kill", ["-KILL", _workers[id].Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    private static bool Alive(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2] != "Z";
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Every <c>edgectl trial run</c> process on this machine started from this test's workers.</summary>
    private List<int> TrialProcesses()
    {
        var found = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var commandLine = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
                if (commandLine.Contains(" trial run ", StringComparison.Ordinal)
                    && _workers.Values.Any(w => commandLine.Contains($"--parent-pid {w.Id}", StringComparison.Ordinal)))
                {
                    found.Add(int.Parse(Path.GetFileName(directory), CultureInfo.InvariantCulture));
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
            {
                // Not a process, or one that ended while being read.
            }
        }

        return found;
    }

    private async Task<TrialInfo> WaitForTrialAsync(string sweepId, Func<TrialInfo, bool> match, string what)
    {
        TrialInfo? found = null;
        await Wait.UntilAsync(
            async () =>
            {
                found = (await _admin.AllTrialsAsync(sweepId, new Dictionary<string, string?>(), default)).FirstOrDefault(match);
                return found is not null;
            },
            what,
            SweepTimeout);
        return found!;
    }

    private async Task<SweepInfo> WaitForEndAsync(string sweepId)
    {
        SweepInfo? sweep = null;
        await Wait.UntilAsync(
            async () =>
            {
                sweep = await _admin.GetSweepAsync(sweepId, default);
                return !SweepStatuses.IsActive(sweep.Status);
            },
            $"sweep {sweepId} to end",
            SweepTimeout);
        return sweep!;
    }
}
