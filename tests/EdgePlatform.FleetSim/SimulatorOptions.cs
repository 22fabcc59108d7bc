using System.Globalization;
using EdgePlatform.Contracts;

namespace EdgePlatform.FleetSim;

/// <summary>
/// What a simulated fleet is and how it behaves. Every value has a documented default;
/// <see cref="Validate"/> names each bad value by its <c>edgectl sim</c> option.
/// </summary>
public sealed class SimulatorOptions
{
    /// <summary>The control plane's API, where devices enroll and attest. Required.</summary>
    public Uri? ControlPlane { get; set; }

    /// <summary>
    /// A group enrollment key (the server's <c>enrollment.key</c> or a group's key): each device
    /// presents the key derived from it for its own id, as a provisioned device does. Required.
    /// </summary>
    public string? EnrollmentKey { get; set; }

    /// <summary>Simulated devices in all, late joiners included. Default 100.</summary>
    public int Devices { get; set; } = 100;

    /// <summary>Device ids are <c>{prefix}-00001</c> and up. Default <c>sim</c>.</summary>
    public string IdPrefix { get; set; } = "sim";

    /// <summary>Tags every device sends at enrollment, for rollout selectors. Default none.</summary>
    public Dictionary<string, string> Tags { get; } = new(StringComparer.Ordinal);

    /// <summary>The release channel devices install from. Default <c>production</c>.</summary>
    public string Channel { get; set; } = "production";

    /// <summary>Events each device scores per second while a model is active. Default 10.</summary>
    public double EventsPerSecond { get; set; } = 10;

    /// <summary>Median scoring latency, in milliseconds, of versions without their own. Default 2.</summary>
    public double LatencyMs { get; set; } = 2;

    /// <summary>Share of events that fail, for versions without their own rate. Default 0.</summary>
    public double ErrorRate { get; set; }

    /// <summary>Share of labelled predictions a binary classifier gets right, for versions without their own. Default 0.9.</summary>
    public double Accuracy { get; set; } = 0.9;

    /// <summary>
    /// Share of scored events whose label comes back as feedback, counted in each interval's
    /// quality report. Default 0.1; 0 sends quality reports without labelled outcomes.
    /// </summary>
    public double LabelledShare { get; set; } = 0.1;

    /// <summary>
    /// How far each device's accuracy lies from its version's, at most either way (each device
    /// draws its own offset once), so devices differ as real ones do. Default 0.01.
    /// </summary>
    public double AccuracySpread { get; set; } = 0.01;

    /// <summary>Behaviour of named versions (<c>name:version</c>): error rate, latency, accuracy, a failing warm-up.</summary>
    public Dictionary<string, VersionBehaviour> Versions { get; } = new(StringComparer.Ordinal);

    /// <summary>Telemetry interval in seconds until a desired state sets one. Default 10, as the agent.</summary>
    public int TelemetryIntervalSeconds { get; set; } = 10;

    /// <summary>Download speed of each device in bytes per second; 0 is unlimited. Default 0.</summary>
    public long BandwidthBytesPerSecond { get; set; }

    /// <summary>Packages downloading at once over the whole fleet. Default 32.</summary>
    public int DownloadConcurrency { get; set; } = 32;

    /// <summary>Devices enrolling, attesting or connecting at once. Default 32.</summary>
    public int StartConcurrency { get; set; } = 32;

    /// <summary>Time a device takes to load and warm a verified version before activating it. Default 0.2 s.</summary>
    public double WarmUpSeconds { get; set; } = 0.2;

    /// <summary>Share of devices (0..1) that drop off the broker during the run. Default 0.</summary>
    public double OfflineShare { get; set; }

    /// <summary>Seconds after the fleet started when they drop off. Default 30.</summary>
    public double OfflineAfterSeconds { get; set; } = 30;

    /// <summary>Seconds they stay away. Default 60.</summary>
    public double OfflineForSeconds { get; set; } = 60;

    /// <summary>Share of devices (0..1) that enroll only later. Default 0.</summary>
    public double LateShare { get; set; }

    /// <summary>
    /// Seconds after the fleet started when the late devices join; null leaves it to
    /// <see cref="FleetSimulator.JoinLateAsync"/>. Default 60.
    /// </summary>
    public double? LateAfterSeconds { get; set; } = 60;

    /// <summary>Seeds the choice of offline and late devices and the telemetry jitter, so runs repeat. Default 1.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>
    /// The build attestation measures as the agent build: the directory of the simulator's own
    /// binaries unless set. The control plane must allow its measurement.
    /// </summary>
    public string? MeasuredBuildDirectory { get; set; }

    public VersionBehaviour BehaviourOf(string name, string version) =>
        Versions.TryGetValue($"{name}:{version}", out var behaviour) ? behaviour : VersionBehaviour.Default;

    public double ErrorRateOf(string name, string version) => BehaviourOf(name, version).ErrorRate ?? ErrorRate;

    public double LatencyOf(string name, string version) => BehaviourOf(name, version).LatencyMs ?? LatencyMs;

    public double AccuracyOf(string name, string version) => BehaviourOf(name, version).Accuracy ?? Accuracy;

    /// <summary>Device id of the device numbered <paramref name="index"/> (from 1).</summary>
    public string DeviceId(int index) =>
        string.Create(CultureInfo.InvariantCulture, $"{IdPrefix}-{index.ToString(Devices >= 100_000 ? "D6" : "D5", CultureInfo.InvariantCulture)}");

    /// <summary>Every problem with these options, each naming the option and the value; empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (ControlPlane is null || !ControlPlane.IsAbsoluteUri || ControlPlane.Scheme is not ("http" or "https"))
        {
            problems.Add("--server must be the control plane's absolute http:// or https:// URL");
        }

        if (string.IsNullOrWhiteSpace(EnrollmentKey))
        {
            problems.Add("an enrollment key is required: --enrollment-key-file (the server's enrollment.key), --enrollment-key, or --start-server");
        }

        Range(problems, "--devices", Devices, 1, 1_000_000);
        if (DeviceIds.Describe(DeviceId(Devices)) is { } idProblem)
        {
            problems.Add($"--id-prefix '{IdPrefix}' makes device ids such as '{DeviceId(Devices)}' that are not valid: the id {idProblem}");
        }

        if (string.IsNullOrWhiteSpace(Channel))
        {
            problems.Add("--channel must not be empty");
        }

        Range(problems, "--events-per-second", EventsPerSecond, 0, 1_000_000);
        Range(problems, "--latency-ms", LatencyMs, 0, 3_600_000);
        Range(problems, "--error-rate", ErrorRate, 0, 1);
        Range(problems, "--default-accuracy", Accuracy, 0, 1);
        Range(problems, "--labelled-share", LabelledShare, 0, 1);
        Range(problems, "--accuracy-spread", AccuracySpread, 0, 0.5);
        foreach (var (release, behaviour) in Versions)
        {
            if (release.Split(':') is not [{ Length: > 0 }, { Length: > 0 }])
            {
                problems.Add($"'{release}' is not name:version (in --version-error-rate, --version-latency-ms, --accuracy or --fail-warmup)");
            }

            if (behaviour.ErrorRate is { } rate)
            {
                Range(problems, $"--version-error-rate {release}", rate, 0, 1);
            }

            if (behaviour.LatencyMs is { } latency)
            {
                Range(problems, $"--version-latency-ms {release}", latency, 0, 3_600_000);
            }

            if (behaviour.Accuracy is { } accuracy)
            {
                Range(problems, $"--accuracy {release}", accuracy, 0, 1);
            }
        }

        Range(problems, "--telemetry-interval", TelemetryIntervalSeconds, 1, 86_400);
        Range(problems, "--bandwidth", BandwidthBytesPerSecond, 0, long.MaxValue);
        Range(problems, "--download-concurrency", DownloadConcurrency, 1, 10_000);
        Range(problems, "--start-concurrency", StartConcurrency, 1, 10_000);
        Range(problems, "--warmup-seconds", WarmUpSeconds, 0, 3600);
        Range(problems, "--offline-share", OfflineShare, 0, 1);
        Range(problems, "--offline-after", OfflineAfterSeconds, 0, 7 * 86_400);
        Range(problems, "--offline-for", OfflineForSeconds, 0, 7 * 86_400);
        Range(problems, "--late-share", LateShare, 0, 1);
        if (LateAfterSeconds is { } lateAfter)
        {
            Range(problems, "--late-after", lateAfter, 0, 7 * 86_400);
        }

        if (LateShare >= 1)
        {
            problems.Add("--late-share must leave at least one device to start with (below 1)");
        }

        if (MeasuredBuildDirectory is { } directory && !Directory.Exists(directory))
        {
            problems.Add($"the measured build directory '{directory}' does not exist");
        }

        return problems;
    }

    private static void Range(List<string> problems, string option, double value, double min, double max)
    {
        if (double.IsNaN(value) || value < min || value > max)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{option} must be between {min} and {max}, not {value}"));
        }
    }
}

/// <summary>How devices treat one model version; null values take the fleet-wide ones.</summary>
public sealed record VersionBehaviour(double? ErrorRate = null, double? LatencyMs = null, bool FailsWarmUp = false, double? Accuracy = null)
{
    public static VersionBehaviour Default { get; } = new();
}
