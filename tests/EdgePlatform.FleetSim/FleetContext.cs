using System.Net;
using EdgePlatform.Agent.Core.Identity;
using EdgePlatform.FleetSim.Adapters;
using EdgePlatform.Security.Attestation;

namespace EdgePlatform.FleetSim;

/// <summary>
/// What every simulated device shares: one pooled HTTP handler, the build measurement, the
/// directory under which each device keeps its identity and state, the bounds on parallel work,
/// the record and the counters.
/// </summary>
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
        HttpClients = new SharedHttpClients(Handler, Counters);
        Starts = new SemaphoreSlim(options.StartConcurrency);
        Downloads = new SemaphoreSlim(options.DownloadConcurrency);
        BuildDirectory = options.MeasuredBuildDirectory ?? DefaultBuildDirectory;
        Build = new AgentBuildMeasurement(BuildDirectory);
        DataRoot = Directory.CreateTempSubdirectory("edgeplatform-fleetsim-").FullName;
    }

    /// <summary>The simulator's own binaries, which its devices attest as their agent build.</summary>
    public static string DefaultBuildDirectory => Path.GetDirectoryName(typeof(FleetContext).Assembly.Location) ?? AppContext.BaseDirectory;

    public SimulatorOptions Options { get; }

    public TimeProvider TimeProvider { get; }

    public ILogger Logger { get; }

    public SocketsHttpHandler Handler { get; }

    /// <summary>The clients the agent's enrollment, attestation and trust code create, over <see cref="Handler"/>.</summary>
    public IHttpClientFactory HttpClients { get; }

    public SemaphoreSlim Starts { get; }

    public SemaphoreSlim Downloads { get; }

    public FleetRecord Record { get; } = new();

    public FleetCounters Counters { get; } = new();

    public string BuildDirectory { get; }

    public AgentBuildMeasurement Build { get; }

    /// <summary>Each device's data directory (identity, pinned trust, state) lies under it; removed with the fleet.</summary>
    public string DataRoot { get; }

    /// <summary>The agent-build measurement of the simulator's own binaries (or of <paramref name="directory"/>).</summary>
    public static string MeasureBuild(string? directory) => AgentMeasurements.MeasureBuild(directory ?? DefaultBuildDirectory);

    public void Dispose()
    {
        Handler.Dispose();
        Starts.Dispose();
        Downloads.Dispose();
        try
        {
            Directory.Delete(DataRoot, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a device stopping late; the folder is under the system temp directory.
        }
    }
}

/// <summary>Fleet-wide counts, updated as devices work and read for progress and the summary.</summary>
public sealed class FleetCounters
{
    private long _enrolled;
    private long _attestations;
    private long _installed;
    private long _refused;
    private long _warmUpFailures;
    private long _retries;
    private long _reconnects;
    private long _telemetryReports;

    public long Enrolled => Interlocked.Read(ref _enrolled);

    public long Attestations => Interlocked.Read(ref _attestations);

    public long Connected => ConnectedSource?.Invoke() ?? 0;

    public long Installing => InstallingSource?.Invoke() ?? 0;

    public long Installed => Interlocked.Read(ref _installed);

    public long Refused => Interlocked.Read(ref _refused);

    public long WarmUpFailures => Interlocked.Read(ref _warmUpFailures);

    public long Retries => Interlocked.Read(ref _retries);

    public long Reconnects => Interlocked.Read(ref _reconnects);

    public long TelemetryReports => Interlocked.Read(ref _telemetryReports);

    internal void AddEnrolled() => Interlocked.Increment(ref _enrolled);

    internal void AddAttestation() => Interlocked.Increment(ref _attestations);

    /// <summary>Counts the devices whose cloud link is up now; set by the fleet.</summary>
    internal Func<long>? ConnectedSource { get; set; }

    /// <summary>Counts the devices with a version on its way (downloading, verifying or staged); set by the fleet.</summary>
    internal Func<long>? InstallingSource { get; set; }

    internal void AddInstalled() => Interlocked.Increment(ref _installed);

    internal void AddRefused() => Interlocked.Increment(ref _refused);

    internal void AddWarmUpFailure() => Interlocked.Increment(ref _warmUpFailures);

    internal void AddRetry() => Interlocked.Increment(ref _retries);

    internal void AddReconnect() => Interlocked.Increment(ref _reconnects);

    internal void AddTelemetryReports(int count) => Interlocked.Add(ref _telemetryReports, count);
}
