using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgePlatform.FleetSim;

/// <summary>
/// A fleet of <see cref="SimulatedDevice"/>s, each the agent's own core, in one process against one
/// control plane. Start enrolls, attests and connects the devices that are not late, a bounded number at a time;
/// <see cref="RunAsync"/> then plays the configured failures (a share of devices dropping off
/// the broker for a while, late joiners) until it is stopped; <see cref="Summarize"/> says where
/// every device ended up, and <see cref="Record"/> what each was told and fetched.
/// </summary>
public sealed partial class FleetSimulator : IAsyncDisposable
{
    private readonly FleetContext _fleet;
    private readonly SimulatedDevice[] _devices;
    private readonly ILogger _logger;
    private long _startedAt;
    private long _readyAt;

    public FleetSimulator(SimulatorOptions options, TimeProvider timeProvider, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is { Count: > 0 } problems)
        {
            throw new SimulatorException(string.Join("; ", problems));
        }

        _logger = logger;
        _fleet = new FleetContext(options, timeProvider, logger);
        _fleet.Counters.ConnectedSource = () => _devices!.Count(d => d.IsConnected);
        _fleet.Counters.InstallingSource = () => _devices!.Count(d => d.Installing);
        var random = new Random(options.Seed);
        var order = Enumerable.Range(1, options.Devices).ToArray();
        random.Shuffle(order);
        var late = order.Take((int)Math.Round(options.Devices * options.LateShare)).ToHashSet();
        _devices = [.. Enumerable.Range(1, options.Devices).Select(i => new SimulatedDevice(_fleet, i, late.Contains(i)))];
        random.Shuffle(order);
        OfflineGroup = [.. order.Take((int)Math.Round(options.Devices * options.OfflineShare)).Order().Select(i => _devices[i - 1])];
    }

    public SimulatorOptions Options => _fleet.Options;

    public IReadOnlyList<SimulatedDevice> Devices => _devices;

    /// <summary>The devices the offline schedule takes off the broker.</summary>
    public IReadOnlyList<SimulatedDevice> OfflineGroup { get; }

    public FleetRecord Record => _fleet.Record;

    public FleetCounters Counters => _fleet.Counters;

    /// <summary>The agent-build measurement the devices attest with; the control plane must allow it.</summary>
    public string Measurement => _fleet.Build.Value;

    /// <summary>The measurement simulated devices of this build present (the simulator's own binaries, or <paramref name="directory"/>).</summary>
    public static string MeasureBuild(string? directory = null) => FleetContext.MeasureBuild(directory);

    /// <summary>Enrolls, attests and connects every device that is not late; the first refusal stops the start with its reason.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _startedAt = _fleet.TimeProvider.GetTimestamp();
        try
        {
            _ = Measurement;
        }
        catch (IOException ex)
        {
            throw new SimulatorException($"cannot measure the simulator's build for attestation: {ex.Message}", ex);
        }

        await StartDevicesAsync(_devices.Where(d => !d.Late), cancellationToken).ConfigureAwait(false);
        _readyAt = _fleet.TimeProvider.GetTimestamp();
        var started = _devices.Count(d => d.Started);
        var seconds = _fleet.TimeProvider.GetElapsedTime(_startedAt).TotalSeconds;
        LogStarted(started, seconds);
    }

    /// <summary>Brings in the late devices (those not started yet).</summary>
    public async Task JoinLateAsync(CancellationToken cancellationToken)
    {
        var late = _devices.Where(d => d.Late && !d.Started).ToList();
        await StartDevicesAsync(late, cancellationToken).ConfigureAwait(false);
        LogJoined(late.Count);
    }

    /// <summary>Takes devices off the broker: each link says offline and disconnects, and the device stays away until brought back.</summary>
    public async Task TakeOfflineAsync(IEnumerable<SimulatedDevice> devices, CancellationToken cancellationToken)
    {
        var group = devices.Where(d => d.Started).ToList();
        await Parallel.ForEachAsync(
            group,
            new ParallelOptions { MaxDegreeOfParallelism = Options.StartConcurrency, CancellationToken = cancellationToken },
            async (device, ct) => await device.GoOfflineAsync(ct).ConfigureAwait(false)).ConfigureAwait(false);
        LogOffline(group.Count);
    }

    /// <summary>Lets devices reconnect; each receives its retained desired state and sends what telemetry waited.</summary>
    public void BringOnline(IEnumerable<SimulatedDevice> devices)
    {
        var count = 0;
        foreach (var device in devices)
        {
            device.GoOnline();
            count++;
        }

        LogOnline(count);
    }

    /// <summary>
    /// Plays the schedule the options describe — the offline share leaves after
    /// <see cref="SimulatorOptions.OfflineAfterSeconds"/> and returns
    /// <see cref="SimulatorOptions.OfflineForSeconds"/> later; late devices join after
    /// <see cref="SimulatorOptions.LateAfterSeconds"/> — then runs until cancelled or <paramref name="duration"/> is over.
    /// Times count from the end of <see cref="StartAsync"/>.
    /// </summary>
    public async Task RunAsync(TimeSpan? duration, CancellationToken cancellationToken)
    {
        var time = _fleet.TimeProvider;
        var events = new List<(TimeSpan At, Func<CancellationToken, Task> Act)>();
        if (OfflineGroup.Count > 0)
        {
            events.Add((TimeSpan.FromSeconds(Options.OfflineAfterSeconds), ct => TakeOfflineAsync(OfflineGroup, ct)));
            events.Add((TimeSpan.FromSeconds(Options.OfflineAfterSeconds + Options.OfflineForSeconds), _ =>
            {
                BringOnline(OfflineGroup);
                return Task.CompletedTask;
            }));
        }

        if (Options.LateAfterSeconds is { } lateAfter && _devices.Any(d => d.Late))
        {
            events.Add((TimeSpan.FromSeconds(lateAfter), JoinLateAsync));
        }

        if (duration is { } end)
        {
            events.Add((end, _ => Task.CompletedTask));
        }

        foreach (var (at, act) in events.OrderBy(e => e.At))
        {
            var wait = at - time.GetElapsedTime(_readyAt);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
            }

            await act(cancellationToken).ConfigureAwait(false);
        }

        if (duration is null)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Where the fleet stands: versions active, installs, downloads, telemetry.</summary>
    public FleetSummary Summarize()
    {
        var started = _devices.Where(d => d.Started).ToList();
        var active = started
            .Select(d => d.Active)
            .Where(a => a is not null)
            .GroupBy(a => $"{a!.Name}:{a.Version}", StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var errors = started
            .Select(d => d.LastError)
            .Where(e => e is not null)
            .GroupBy(e => e!, StringComparer.Ordinal)
            .OrderByDescending(g => g.Count())
            .Take(5)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var counters = Counters;
        return new FleetSummary(
            _devices.Length,
            started.Count,
            counters.Connected,
            active,
            started.Count(d => d.Active is null),
            started.Count(d => d.LastError is not null),
            errors,
            counters.Installed,
            counters.Refused,
            counters.WarmUpFailures,
            counters.Retries,
            Record.DesiredStatesReceived,
            Record.CompletedDownloads,
            Record.BytesDownloaded,
            Record.RepeatedDownloads().Count,
            counters.TelemetryReports,
            started.Sum(d => (long)d.TelemetryPending),
            counters.Attestations,
            counters.Reconnects,
            Measurement,
            _startedAt == 0 ? 0 : Math.Round(_fleet.TimeProvider.GetElapsedTime(_startedAt).TotalSeconds, 1));
    }

    /// <summary>Stops every device: each says it is offline and disconnects cleanly.</summary>
    public async ValueTask DisposeAsync()
    {
        await Parallel.ForEachAsync(
            _devices,
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(16, Options.StartConcurrency) },
            async (device, _) => await device.DisposeAsync().ConfigureAwait(false)).ConfigureAwait(false);
        _fleet.Dispose();
    }

    private async Task StartDevicesAsync(IEnumerable<SimulatedDevice> devices, CancellationToken cancellationToken) =>
        await Parallel.ForEachAsync(
            devices,
            new ParallelOptions { MaxDegreeOfParallelism = Options.StartConcurrency, CancellationToken = cancellationToken },
            async (device, ct) => await device.StartAsync(ct).ConfigureAwait(false)).ConfigureAwait(false);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Information, Message = "{Devices} simulated device(s) enrolled, attested and connected in {Seconds:0.0} s")]
    private partial void LogStarted(int devices, double seconds);

    [LoggerMessage(EventId = 4011, Level = LogLevel.Information, Message = "{Devices} late device(s) joined")]
    private partial void LogJoined(int devices);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Information, Message = "{Devices} device(s) went offline")]
    private partial void LogOffline(int devices);

    [LoggerMessage(EventId = 4013, Level = LogLevel.Information, Message = "{Devices} device(s) came back online")]
    private partial void LogOnline(int devices);
}

/// <summary>
/// The end of a simulation run, as <c>edgectl sim -o json</c> prints it. <see cref="Errors"/> holds
/// the commonest last errors devices report (up to five) with how many report each.
/// </summary>
public sealed record FleetSummary(
    int Devices,
    int Started,
    long Connected,
    IReadOnlyDictionary<string, int> Active,
    int WithoutModel,
    int WithError,
    IReadOnlyDictionary<string, int> Errors,
    long Installs,
    long Refused,
    long WarmUpFailures,
    long Retries,
    long DesiredStatesReceived,
    long Downloads,
    long BytesDownloaded,
    int RepeatedDownloads,
    long TelemetryReports,
    long TelemetryPending,
    long Attestations,
    long Reconnects,
    string Measurement,
    double ElapsedSeconds);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(FleetSummary))]
[JsonSerializable(typeof(Dictionary<string, string>))]
public sealed partial class FleetSimJsonContext : JsonSerializerContext;
