using EdgePlatform.Agent.Core;
using EdgePlatform.Agent.Core.Identity;
using EdgePlatform.Agent.Core.Packages;
using EdgePlatform.Agent.Core.Reconciliation;
using EdgePlatform.Agent.Core.Telemetry;
using EdgePlatform.Agent.Core.Trust;
using EdgePlatform.Agent.Links;
using EdgePlatform.Contracts;
using EdgePlatform.FleetSim.Adapters;
using EdgePlatform.Security;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgePlatform.FleetSim;

/// <summary>
/// One simulated device: the agent's own core, composed as the agent host composes it. It enrolls
/// with <see cref="DeviceIdentityProvider"/> (its own key, a CSR, the pinned root), attests with
/// <see cref="AttestationClient"/>, holds the agent's <see cref="MqttCloudLink"/> over mutual TLS,
/// and applies desired states with the <see cref="Reconciler"/>, whose
/// <see cref="PackageInstaller"/> pulls through <see cref="DeviceTrust"/> and the registry with its
/// attestation token. Telemetry goes through the <see cref="TelemetryOutbox"/>. Behind the ports
/// are light adapters: a model runtime that only warms up, a model store and a spool in memory,
/// and a registry client that shares the fleet's download slots and bandwidth. The device's
/// identity and state files lie in its own directory, as an agent's do.
/// </summary>
public sealed partial class SimulatedDevice : IAsyncDisposable
{
    private const int MaxBatchReports = 100;
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(60);

    private readonly FleetContext _fleet;
    private readonly SimulatorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DeviceIdentityProvider _identity;
    private readonly DeviceTrust _trust;
    private readonly AttestationClient _attestation;
    private readonly SimulatedModelRuntime _runtime;
    private readonly MqttCloudLink _link;
    private readonly Reconciler _reconciler;
    private readonly MemorySpool _spool;
    private readonly TelemetryOutbox _outbox;
    private readonly DeviceTelemetry _telemetry;
    private readonly Random _random;
    private readonly SemaphoreSlim _draining = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private Task _telemetryLoop = Task.CompletedTask;
    private bool _started;
    private int _connects;

    internal SimulatedDevice(FleetContext fleet, int index, bool late)
    {
        _fleet = fleet;
        _options = fleet.Options;
        _time = fleet.TimeProvider;
        _logger = fleet.Logger;
        Id = _options.DeviceId(index);
        Late = late;
        _random = new Random(HashCode.Combine(_options.Seed, index));
        _telemetry = new DeviceTelemetry(_options, _random);

        var agent = new AgentOptions
        {
            DataDirectory = Path.Combine(fleet.DataRoot, Id),
            DeviceId = Id,
            ControlPlaneUrl = _options.ControlPlane?.ToString(),
            EnrollmentKey = EnrollmentKeys.Derive(_options.EnrollmentKey!, Id),
            MeasuredBuildDirectory = fleet.BuildDirectory,
            Channel = _options.Channel,
            Tags = new Dictionary<string, string>(_options.Tags, StringComparer.Ordinal),
        };
        var options = Options.Create(agent);
        _identity = new DeviceIdentityProvider(options, fleet.HttpClients, new ControlPlaneTrust(options), _time, NullLogger<DeviceIdentityProvider>.Instance);
        _trust = new DeviceTrust(
            new TufClient(_identity.TrustDirectory, new HttpTufRemote(fleet.HttpClients.CreateClient(nameof(HttpTufRemote)), _identity.GetMetadataUriAsync), _time),
            async ct => await _identity.GetAsync(ct).ConfigureAwait(false));
        var store = new MemoryModelStore();
        var state = new AgentStateStore(agent.DataDirectory);
        _attestation = new AttestationClient(_identity, store, state, options, fleet.HttpClients, _time, NullLogger<AttestationClient>.Instance, fleet.Build);

        // The registry's token service takes the attestation token, as in the agent host.
        var registryHttp = new HttpClient(new Oci.RegistryTokenHandler(async ct => await _attestation.GetTokenAsync(ct).ConfigureAwait(false), _options.ControlPlane is { } controlPlane ? [controlPlane] : []) { InnerHandler = fleet.Handler }, disposeHandler: false)
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        var registry = new MeteredRegistryClient(new OciRegistryClient(registryHttp, _identity), Id, fleet);
        var installer = new PackageInstaller(registry, store, _trust, options, NullLogger<PackageInstaller>.Instance);
        _runtime = new SimulatedModelRuntime(_options, fleet.Counters, _time);
        var inbox = new DesiredStateInbox();
        inbox.Received += desired => fleet.Record.Told(Id, desired, _time.GetUtcNow());
        // A keep-alive of a minute, not the agent's 15 s: ten thousand sessions on one machine
        // would otherwise spend the broker's and the simulator's CPU on pings.
        _link = new MqttCloudLink(_identity, inbox, options, _time, NullLoggerFactory.Instance, settings => settings with { KeepAlive = KeepAlive, Attempting = () => fleet.Record.Attempted(Id, _time.GetUtcNow()) });
        _reconciler = new Reconciler(installer, _runtime, _link, inbox, state, _time, NullLogger<Reconciler>.Instance, agentOptions: options);
        _reconciler.Reconciled += OnReconciled;
        _spool = new MemorySpool(DeviceTelemetry.MaxPending);
        _outbox = new TelemetryOutbox(_spool, NullLogger<TelemetryOutbox>.Instance);
        _link.Connected += OnConnectedAsync;
    }

    public string Id { get; }

    /// <summary>Enrolls only when the late devices join.</summary>
    public bool Late { get; }

    public bool Started => Volatile.Read(ref _started);

    public bool IsConnected => _link.IsConnected;

    /// <summary>The version serving now, or null.</summary>
    public ModelReference? Active => _runtime.Active?.Reference;

    /// <summary>The experiment candidate running beside <see cref="Active"/>, and how it shares events; null when none.</summary>
    public ExperimentCandidate? Candidate => _runtime.Candidate is null ? null : _runtime.CandidatePlacement;

    public string? LastError => _reconciler.BuildReport().LastError;

    /// <summary>True while a version is on its way: downloading, verifying or staged.</summary>
    public bool Installing => _reconciler.BuildReport().Slots.Any(
        s => s.Slot == ModelSlots.Incoming && s.State is ModelSlotStates.Downloading or ModelSlotStates.Verifying or ModelSlotStates.Staged);

    /// <summary>Reports still waiting to go up.</summary>
    public int TelemetryPending => (int)_outbox.Depth;

    /// <summary>The reported twin as the device would publish it now.</summary>
    public ReportedState BuildReport() => _reconciler.BuildReport();

    /// <summary>Enrolls, attests and connects; the device then runs until it is disposed.</summary>
    internal async Task StartAsync(CancellationToken cancellationToken)
    {
        await _fleet.Starts.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            try
            {
                await _identity.GetAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (EnrollmentException ex)
            {
                throw new SimulatorException($"enrollment of {Id} refused: {ex.Message}", ex);
            }

            _fleet.Counters.AddEnrolled();
            await AttestAsync(cancellationToken).ConfigureAwait(false);
            var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Task FirstConnect(CancellationToken _)
            {
                connected.TrySetResult();
                return Task.CompletedTask;
            }

            _link.Connected += FirstConnect;
            var stopping = _stopping.Token;
            await _reconciler.StartAsync(stopping).ConfigureAwait(false);
            await _reconciler.Started.WaitAsync(cancellationToken).ConfigureAwait(false);
            await _link.StartAsync(stopping).ConfigureAwait(false);
            try
            {
                await connected.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _link.Connected -= FirstConnect;
            }

            // Renews the token before it lapses and after every reconcile, as in the agent.
            await _attestation.StartAsync(stopping).ConfigureAwait(false);
            _telemetryLoop = Task.Run(() => TelemetryLoopAsync(stopping), CancellationToken.None);
            Volatile.Write(ref _started, true);
        }
        finally
        {
            _fleet.Starts.Release();
        }
    }

    /// <summary>Drops off the broker: the link says offline and disconnects, and the device stays away until <see cref="GoOnline"/>.</summary>
    internal Task GoOfflineAsync(CancellationToken cancellationToken) => _link.StopAsync(cancellationToken);

    /// <summary>Comes back: reconnects, receives its retained desired state, drains what telemetry waited.</summary>
    internal void GoOnline() => _ = _link.StartAsync(_stopping.Token);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_started)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _attestation.StopAsync(timeout.Token).ConfigureAwait(false);
            await _reconciler.StopAsync(timeout.Token).ConfigureAwait(false);

            // A clean stop says offline first, as the agent does.
            await _link.StopAsync(timeout.Token).ConfigureAwait(false);
            try
            {
                await _telemetryLoop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopping is the expected way out of the loop.
            }
        }

        _link.Dispose();
        _reconciler.Dispose();
        _attestation.Dispose();
        _outbox.Dispose();
        _trust.Dispose();
        _identity.Dispose();
        _draining.Dispose();
        _stopping.Dispose();
    }

    private async Task AttestAsync(CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await _attestation.GetTokenAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (AttestationRefusedException ex)
            {
                var hint = ex.Message.Contains("measurement check failed: agent build", StringComparison.Ordinal)
                    ? "; start the control plane with --Attestation:AllowedAgentBuilds:*:0=<measurement> for this simulator's build (edgectl sim --print-measurement prints it)"
                    : string.Empty;
                throw new SimulatorException($"attestation of {Id} refused: {ex.Message}{hint}", ex);
            }
            catch (Exception ex) when (attempt < 8 && IsTransient(ex, cancellationToken))
            {
                // A control plane busy with thousands of start-ups answers 5xx or slowly now and then.
                LogAttestRetry(Id, ex.Message);
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                delay *= 2;
            }
            catch (Exception ex) when (IsTransient(ex, cancellationToken))
            {
                throw new SimulatorException($"cannot attest {Id} with the control plane at {_options.ControlPlane}: {ex.Message}", ex);
            }
        }
    }

    /// <summary>A failed or timed-out call, as opposed to a refusal or the caller cancelling.</summary>
    private static bool IsTransient(Exception exception, CancellationToken cancellationToken) =>
        exception is HttpRequestException || (exception is TaskCanceledException && !cancellationToken.IsCancellationRequested);

    private void OnReconciled(ReconcileOutcome outcome)
    {
        // What is measured changed: attest anew, as the agent host wires it.
        _attestation.RequestRenewal();
        if (!outcome.Succeeded && outcome.Error is { } error && error.Contains(" check failed: ", StringComparison.Ordinal))
        {
            _fleet.Counters.AddRefused();
        }
    }

    private Task OnConnectedAsync(CancellationToken cancellationToken)
    {
        _fleet.Record.Connected(Id, _time.GetUtcNow());
        if (Interlocked.Increment(ref _connects) > 1)
        {
            _fleet.Counters.AddReconnect();
        }

        // What waited while the device was away goes up now, not an interval later.
        return DrainAsync(cancellationToken);
    }

    private async Task TelemetryLoopAsync(CancellationToken stopping)
    {
        // Devices start at different moments of their interval, as a real fleet does.
        var phase = TimeSpan.FromSeconds(_random.NextDouble() * _options.TelemetryIntervalSeconds);
        await Task.Delay(phase, _time, stopping).ConfigureAwait(false);
        var last = _time.GetTimestamp();
        while (!stopping.IsCancellationRequested)
        {
            var now = _time.GetTimestamp();
            var active = Active;
            var health = _telemetry.Next(active, _time.GetElapsedTime(last, now), _time.GetUtcNow());
            _outbox.Add(health);
            if (_telemetry.Quality(active, health) is { } quality)
            {
                _outbox.Add(quality);
            }

            last = now;
            await DrainAsync(stopping).ConfigureAwait(false);
            var interval = Math.Max(1, _reconciler.Telemetry?.IntervalSeconds ?? _options.TelemetryIntervalSeconds);
            await Task.Delay(TimeSpan.FromSeconds(interval), _time, stopping).ConfigureAwait(false);
        }
    }

    /// <summary>Sends waiting reports through the outbox, oldest first; each batch leaves the spool only once the broker acknowledged it.</summary>
    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _draining.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // The device is stopping; what waits is counted as pending in the summary.
            return;
        }

        try
        {
            while (_outbox.Depth > 0 && _link.IsConnected)
            {
                var sent = await _outbox.SendNextBatchAsync(_link, Id, MaxBatchReports, cancellationToken).ConfigureAwait(false);
                if (sent == 0)
                {
                    // Not acknowledged (no subscriber yet, or the link dropped): kept for the next interval.
                    return;
                }

                _fleet.Counters.AddTelemetryReports(sent);
            }
        }
        finally
        {
            _draining.Release();
        }
    }

    [LoggerMessage(EventId = 4000, Level = LogLevel.Warning, Message = "{DeviceId}: attestation call failed ({Reason}); retrying")]
    private partial void LogAttestRetry(string deviceId, string reason);
}
