using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Data.Sqlite;

// Usage: dotnet run -c Release --project tests/EdgePlatform.Benchmarks.SweepWorkers -- [--trials 30000] [--sweep-trials 16] [--no-workers] [--smoke]
// 1. Listing and querying N recorded trials through the store's paged queries, each page serialized as the API sends it.
// 2. One sweep's search wall time (submit to the end of the search, refit excluded) with one worker and with two.
var smoke = args.Contains("--smoke");
var trials = Option("--trials", smoke ? 3000 : 30_000);
var sweepTrials = Option("--sweep-trials", smoke ? 2 : 16);
var root = Directory.CreateTempSubdirectory("edgeplatform-sweep-bench-").FullName;
try
{
    var query = await QueryBenchmarkAsync(Path.Combine(root, "query.db"), trials);
    Console.WriteLine($"listed and queried {trials} trials in {query.TotalSeconds:0.000} s (goal: under 2 s)");
    if (!args.Contains("--no-workers"))
    {
        var one = await SweepWallTimeAsync(Path.Combine(root, "one"), workers: 1, sweepTrials);
        var two = await SweepWallTimeAsync(Path.Combine(root, "two"), workers: 2, sweepTrials);
        // The planner proposes from the results it has, so the two sweeps do not run the same
        // trials: the throughput (trial seconds done per wall second) is compared as well.
        Console.WriteLine("| workers | trials | search seconds | trial seconds | trial seconds per search second |");
        Console.WriteLine("|---|---|---|---|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| 1 | {sweepTrials} | {one.Wall.TotalSeconds:0.0} | {one.TrialSeconds:0.0} | {one.TrialSeconds / one.Wall.TotalSeconds:0.00} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| 2 | {sweepTrials} | {two.Wall.TotalSeconds:0.0} | {two.TrialSeconds:0.0} | {two.TrialSeconds / two.Wall.TotalSeconds:0.00} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"throughput with 2 workers: {two.TrialSeconds / two.Wall.TotalSeconds / (one.TrialSeconds / one.Wall.TotalSeconds):0.00}x"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"speedup with 2 workers: {one.Wall / two.Wall:0.00}x (goal: at least 1.7x)"));
    }

    return 0;
}
finally
{
    SqliteConnection.ClearAllPools();
    Directory.Delete(root, recursive: true);
}

int Option(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

static async Task<TimeSpan> QueryBenchmarkAsync(string path, int count)
{
    using var stores = Stores.OpenSqlite(path);
    var store = stores.Sweeps;
    var now = DateTimeOffset.UtcNow;
    await store.AddSweepAsync(
        new SweepRecord("bench", new SweepSpec { Dataset = "bench@1" }, SweepStatuses.Succeeded, new DatasetInfo("bench@1", "sha256:" + new string('0', 64), 1000, ["a"], "label", now), "bench", "bench", now, ModelTasks.BinaryClassification, SweepMetrics.Auc),
        CancellationToken.None);
    Seed(path, count, now);

    var clock = Stopwatch.StartNew();
    Console.WriteLine("| operation | rows returned | seconds |");
    Console.WriteLine("|---|---|---|");

    async Task MeasureAsync(string operation, Func<Task<int>> run)
    {
        var start = clock.Elapsed;
        var rows = await run();
        Console.WriteLine($"| {operation} | {rows} | {(clock.Elapsed - start).TotalSeconds:0.000} |");
    }

    async Task<int> PageAsync(TrialQuery query)
    {
        var (items, total) = await store.QueryTrialsAsync("bench", query, CancellationToken.None);
        // As the API answers: the page as JSON.
        _ = JsonSerializer.SerializeToUtf8Bytes(new TrialPage([.. items.Select(t => t.ToInfo())], total, null), ContractsJsonContext.Default.TrialPage);
        return items.Count;
    }

    await MeasureAsync($"list all {count}, pages of 1000", async () =>
    {
        var listed = 0;
        for (var offset = 0; offset < count; offset += 1000)
        {
            listed += await PageAsync(new TrialQuery(Offset: offset, Limit: 1000));
        }

        return listed;
    });
    await MeasureAsync("first page of 100", () => PageAsync(new TrialQuery()));
    await MeasureAsync("trainer lightgbm, score >= 0.9, best 100", () => PageAsync(new TrialQuery(Trainer: "lightgbm", MinScore: 0.9, Sort: "score", Descending: true)));
    await MeasureAsync("sorted by log-loss, best 100", () => PageAsync(new TrialQuery(Sort: SweepMetrics.LogLoss)));
    await MeasureAsync("learningRate in [0.01, 0.02]", () => PageAsync(new TrialQuery(Parameter: "learningRate", ParameterMin: 0.01, ParameterMax: 0.02, Limit: 1000)));
    await MeasureAsync("trial counts per status", async () => (await store.CountTrialsAsync(CancellationToken.None))["bench"].Values.Sum());
    return clock.Elapsed;
}

// Recorded trials written in one transaction: the benchmark measures reading them, not the
// queue's one-transaction-per-result writes.
static void Seed(string path, int count, DateTimeOffset now)
{
    using var connection = new SqliteConnection($"Data Source={path}");
    connection.Open();
    using var transaction = connection.BeginTransaction();
    using var insert = connection.CreateCommand();
    insert.Transaction = transaction;
    insert.CommandText = """
        INSERT INTO trials (sweep_id, number, trainer, parameters, fidelity, seed, status, proposed_after, attempt, worker_id, worker_build, score, metrics, duration_seconds, log, completion_seq, created_at, queued_ms, finished_at)
        VALUES ('bench', $number, $trainer, $parameters, 1, 42, 'succeeded', $number, 1, 'w1', 'build', $score, $metrics, 1.5, 'trial log', $number, $created, $queued, $created)
        """;
    var number = insert.Parameters.Add("$number", SqliteType.Integer);
    var trainer = insert.Parameters.Add("$trainer", SqliteType.Text);
    var parameters = insert.Parameters.Add("$parameters", SqliteType.Text);
    var score = insert.Parameters.Add("$score", SqliteType.Real);
    var metrics = insert.Parameters.Add("$metrics", SqliteType.Text);
    insert.Parameters.AddWithValue("$created", now.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
    insert.Parameters.AddWithValue("$queued", now.ToUnixTimeMilliseconds());
    var random = new Random(42);
    string[] trainers = ["fasttree", "lightgbm", "fastforest", "sdca-logistic", "lbfgs-logistic"];
    for (var i = 1; i <= count; i++)
    {
        var auc = random.NextDouble();
        number.Value = i;
        trainer.Value = trainers[i % trainers.Length];
        parameters.Value = string.Create(CultureInfo.InvariantCulture, $"{{\"learningRate\":{random.NextDouble() * 0.3},\"trees\":{random.Next(4, 1000)},\"leaves\":{random.Next(4, 256)}}}");
        score.Value = auc;
        metrics.Value = string.Create(CultureInfo.InvariantCulture, $"{{\"auc\":{auc},\"accuracy\":{random.NextDouble()},\"f1\":{random.NextDouble()},\"log-loss\":{random.NextDouble()}}}");
        insert.ExecuteNonQuery();
    }

    transaction.Commit();
}

static async Task<(TimeSpan Wall, double TrialSeconds)> SweepWallTimeAsync(string directory, int workers, int maxTrials)
{
    await using var processes = new ProcessGroup();
    Directory.CreateDirectory(directory);
    var tokenFile = Path.Combine(directory, "admin.token");
    var endpointsFile = Path.Combine(directory, "server", ServerEndpoints.FileName);
    var server = processes.Start(
        "server",
        HostProcess.ServerAssembly,
        [$"--Server:DataDirectory={Path.Combine(directory, "server")}", $"--Server:HttpPort={FreePort()}", $"--Server:MqttPort={FreePort()}", $"--Server:InitialAdminTokenFile={tokenFile}", "--Sweeps:SchedulerIntervalMilliseconds=100"],
        Path.Combine(directory, "server.log"));
    var deadline = Stopwatch.StartNew();
    while (!File.Exists(endpointsFile) || !File.Exists(tokenFile))
    {
        if (server.HasExited || deadline.Elapsed > TimeSpan.FromMinutes(2))
        {
            throw new InvalidOperationException($"the control plane did not start:\n{server.LogTail(30)}");
        }

        await Task.Delay(200);
    }

    await Task.Delay(200);
    var endpoints = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(endpointsFile), ContractsJsonContext.Default.ServerEndpoints)!;
    using var api = new ApiClient(new Uri(endpoints.HttpUrl), (await File.ReadAllTextAsync(tokenFile)).Trim());
    var workerToken = (await api.CreateTokenAsync(new CreateTokenRequest("bench-workers", "worker"), default)).Token;
    var started = new List<HostProcess>();
    for (var i = 1; i <= workers; i++)
    {
        started.Add(processes.Start($"worker-{i}", typeof(ApiClient).Assembly.Location,
            ["worker", "--server", endpoints.HttpUrl, "--token", workerToken, "--id", $"bench-{i}", "--cache", Path.Combine(directory, $"cache-{i}")],
            Path.Combine(directory, $"worker-{i}.log")));
    }

    // Each worker asks for work before the clock starts, so both runs begin with warm workers.
    while ((await api.ListWorkersAsync(default)).Count(w => w.Live) < workers)
    {
        if (started.FirstOrDefault(w => w.HasExited) is { } gone)
        {
            throw new InvalidOperationException($"worker {gone.Name} exited:\n{gone.LogTail(10)}");
        }

        await Task.Delay(200);
    }

    var clock = Stopwatch.StartNew();
    var sweep = await api.SubmitSweepAsync(
        new SweepSpec { Dataset = "sensor-anomaly", Trainers = ["fasttree", "lightgbm"], MaxTrials = maxTrials, Folds = 5, Concurrency = workers, ModelName = "bench" }, default);
    while (true)
    {
        sweep = await api.GetSweepAsync(sweep.Id, default);
        if (sweep.Status != SweepStatuses.Running)
        {
            break;
        }

        await Task.Delay(100);
    }

    var elapsed = clock.Elapsed;
    while (SweepStatuses.IsActive(sweep.Status))
    {
        await Task.Delay(200);
        sweep = await api.GetSweepAsync(sweep.Id, default);
    }

    if (sweep.Status != SweepStatuses.Succeeded)
    {
        throw new InvalidOperationException($"the sweep with {workers} worker(s) ended {sweep.Status}: {sweep.Error}");
    }

    Console.WriteLine($"{workers} worker(s): {sweep.Succeeded} trials succeeded, {sweep.Failed} failed, published {sweep.ModelName}:{sweep.ModelVersion}");
    var trialSeconds = (await api.AllTrialsAsync(sweep.Id, new Dictionary<string, string?>(), default)).Sum(t => t.DurationSeconds ?? 0);
    return (elapsed, trialSeconds);
}

static int FreePort()
{
    using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
    listener.Start();
    return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
}
