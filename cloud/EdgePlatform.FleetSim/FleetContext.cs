using System.Net;
using System.Reflection;
using EdgePlatform.Security.Attestation;
using Microsoft.Extensions.Logging;
using MQTTnet;

namespace EdgePlatform.FleetSim;

/// <summary>What every simulated device shares: one pooled HTTP handler, the bounds on parallel work, the record and the counters.</summary>
internal sealed class FleetContext : IDisposable
{
    public FleetContext(SimulatorOptions options, TimeProvider timeProvider, ILogger logger)
    {
        Options = options;
        TimeProvider = timeProvider;
        Logger = logger;
        Handler = new SocketsHttpHandler
        {
            // Loopback or a LAN: enough sockets for every download and start-up call in flight, reused.
            MaxConnectionsPerServer = Math.Max(options.DownloadConcurrency, options.StartConcurrency) * 2,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        Api = new HttpClient(Handler, disposeHandler: false) { BaseAddress = options.ControlPlane, Timeout = TimeSpan.FromSeconds(60) };
        Starts = new SemaphoreSlim(options.StartConcurrency);
        Downloads = new SemaphoreSlim(options.DownloadConcurrency);
        Build = new Lazy<string>(() => MeasureBuild(options.MeasuredBuildDirectory));
    }

    public static string AgentVersion { get; } =
        "edgeplatform-fleetsim/" + (typeof(FleetContext).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0");

    public SimulatorOptions Options { get; }

    public TimeProvider TimeProvider { get; }

    public ILogger Logger { get; }

    public SocketsHttpHandler Handler { get; }

    /// <summary>Enrollment, attestation and trust metadata calls, over the shared handler.</summary>
    public HttpClient Api { get; }

    public SemaphoreSlim Starts { get; }

    public SemaphoreSlim Downloads { get; }

    public MqttClientFactory Mqtt { get; } = new();

    public FleetRecord Record { get; } = new();

    public FleetCounters Counters { get; } = new();

    public Lazy<string> Build { get; }

    /// <summary>The agent-build measurement of the simulator's own binaries (or of <paramref name="directory"/>).</summary>
    public static string MeasureBuild(string? directory) =>
        AgentMeasurements.MeasureBuild(directory ?? Path.GetDirectoryName(typeof(FleetContext).Assembly.Location) ?? AppContext.BaseDirectory);

    public void Dispose()
    {
        Api.Dispose();
        Handler.Dispose();
        Starts.Dispose();
        Downloads.Dispose();
    }
}

/// <summary>Fleet-wide counts, updated as devices work and read for progress and the summary.</summary>
public sealed class FleetCounters
{
    private long _enrolled;
    private long _attestations;
    private long _connected;
    private long _installing;
    private long _installed;
    private long _refused;
    private long _warmUpFailures;
    private long _retries;
    private long _reconnects;
    private long _telemetryReports;

    public long Enrolled => Interlocked.Read(ref _enrolled);

    public long Attestations => Interlocked.Read(ref _attestations);

    public long Connected => Interlocked.Read(ref _connected);

    public long Installing => Interlocked.Read(ref _installing);

    public long Installed => Interlocked.Read(ref _installed);

    public long Refused => Interlocked.Read(ref _refused);

    public long WarmUpFailures => Interlocked.Read(ref _warmUpFailures);

    public long Retries => Interlocked.Read(ref _retries);

    public long Reconnects => Interlocked.Read(ref _reconnects);

    public long TelemetryReports => Interlocked.Read(ref _telemetryReports);

    internal void AddEnrolled() => Interlocked.Increment(ref _enrolled);

    internal void AddAttestation() => Interlocked.Increment(ref _attestations);

    internal void AddConnected(int delta) => Interlocked.Add(ref _connected, delta);

    internal void AddInstalling(int delta) => Interlocked.Add(ref _installing, delta);

    internal void AddInstalled() => Interlocked.Increment(ref _installed);

    internal void AddRefused() => Interlocked.Increment(ref _refused);

    internal void AddWarmUpFailure() => Interlocked.Increment(ref _warmUpFailures);

    internal void AddRetry() => Interlocked.Increment(ref _retries);

    internal void AddReconnect() => Interlocked.Increment(ref _reconnects);

    internal void AddTelemetryReports(int count) => Interlocked.Add(ref _telemetryReports, count);
}
