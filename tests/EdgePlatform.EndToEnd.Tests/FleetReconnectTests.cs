using System.Globalization;
using System.Text;
using EdgePlatform.Cli.Processes;
using EdgePlatform.FleetSim;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// A thousand simulated devices, each running the agent's own MQTT link, lose the control plane
/// at the same instant. While it is down their reconnect pauses grow to the cap; when it comes
/// back, jittered pauses bring them back spread over that window, not in one burst.
/// </summary>
[Trait("Category", "EndToEnd")]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the test class through IAsyncLifetime.DisposeAsync.")]
public sealed class FleetReconnectTests : IAsyncLifetime
{
    private const int Devices = 1000;

    /// <summary>The agent's reconnect cap (<c>Agent:ReconnectRetry:MaxDelay</c>, default 10 s): the window the fleet comes back over.</summary>
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan Bucket = TimeSpan.FromSeconds(1);

    private readonly ITestOutputHelper _output;
    private readonly ProcessGroup _processes = new();
    private readonly string _root = Directory.CreateTempSubdirectory("edgeplatform-e2e-reconnect-").FullName;
    private readonly RestartableServer _control;

    public FleetReconnectTests(ITestOutputHelper output)
    {
        _output = output;
        _control = new RestartableServer(_processes, _root);
    }

    [Fact]
    public async Task ControlPlaneRestart_ThousandDevicesReconnect_SpreadOverTheBackoffWindowNotInLockstep()
    {
        var server = await StartServerAsync();
        var endpoints = await _control.ReadEndpointsAsync();
        var options = new SimulatorOptions
        {
            ControlPlane = new Uri(endpoints.HttpUrl),
            EnrollmentKey = (await File.ReadAllTextAsync(endpoints.EnrollmentKeyFile)).Trim(),
            Devices = Devices,
            IdPrefix = "reconnect",
            EventsPerSecond = 1,
            WarmUpSeconds = 0.1,
            LateAfterSeconds = null,
        };
        await using var fleet = new FleetSimulator(options, TimeProvider.System, NullLogger.Instance);
        using (var starting = new CancellationTokenSource(TimeSpan.FromMinutes(5)))
        {
            await fleet.StartAsync(starting.Token);
        }

        await Wait.UntilAsync(() => Task.FromResult(fleet.Devices.All(d => d.IsConnected)), "every device connected", FleetServerFixture.Patience);

        // Down for longer than the cap, so every device's pause has grown to it.
        var killedAt = DateTimeOffset.UtcNow;
        server.Kill();
        await Wait.UntilAsync(() => Task.FromResult(fleet.Devices.All(d => !d.IsConnected)), "every device to see the control plane gone");
        await Task.Delay(Window + TimeSpan.FromSeconds(2));
        await StartServerAsync();

        await Wait.UntilAsync(
            () => Task.FromResult(fleet.Devices.All(d => fleet.Record.ConnectedAt(d.Id).Any(at => at > killedAt))),
            "every device to reconnect",
            FleetServerFixture.Patience);

        // Each device's successful try is the last one it began before it was back. When the tries
        // began is the clients' doing alone; when they completed also depends on how fast the
        // restarted server works through the handshakes, which a loaded machine slows down.
        var tries = fleet.Devices.Select(d =>
        {
            var back = fleet.Record.ConnectedAt(d.Id).First(at => at > killedAt);
            return (Began: fleet.Record.AttemptedAt(d.Id).Last(at => at <= back), Back: back);
        }).ToArray();
        var firstTry = tries.Min(t => t.Began);
        var began = tries.Select(t => (t.Began - firstTry).TotalSeconds).Order().ToArray();
        var back = tries.Select(t => (t.Back - firstTry).TotalSeconds).Order().ToArray();
        var buckets = Buckets(began);
        _output.WriteLine(Histogram("successful tries began", buckets, began));
        _output.WriteLine(Histogram("devices were back", Buckets(back), back));

        var fullest = buckets.Values.Max();
        var spread = Percentile(began, 0.9) - Percentile(began, 0.1);
        // In lockstep every device tries at the same instant. Jittered pauses at the cap are drawn
        // from [cap/2, cap], so the tries after the restart spread over the window: measured on a
        // machine loaded with builds, the middle 80% began over 4.9 s, at most 20% in one second.
        // The completions are the server's pace: it must have taken the fleet back within three windows.
        Assert.True(fullest <= Devices * 0.35, $"{fullest} of {Devices} devices began their successful try within the same second:\n{Histogram("successful tries began", buckets, began)}");
        Assert.True(spread >= Window.TotalSeconds * 0.3, $"the middle 80% of devices began their successful try within {spread:0.0} s:\n{Histogram("successful tries began", buckets, began)}");
        Assert.True(Percentile(back, 0.95) <= (Window * 3).TotalSeconds, $"5% of devices took longer than {(Window * 3).TotalSeconds} s to be back:\n{Histogram("devices were back", Buckets(back), back)}");
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _processes.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A log still being flushed keeps the folder; it is under the system temp directory.
        }
    }

    private static double Percentile(double[] sorted, double share) => sorted[(int)Math.Min(sorted.Length - 1, Math.Floor(share * sorted.Length))];

    private static Dictionary<int, int> Buckets(double[] seconds) =>
        seconds.GroupBy(s => (int)Math.Floor(s / Bucket.TotalSeconds)).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count());

    private static string Histogram(string what, IReadOnlyDictionary<int, int> buckets, double[] sorted)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"after the control plane restarted, when {what} ({sorted.Length} devices, seconds after the first successful try began):\n");
        foreach (var (second, count) in buckets)
        {
            text.Append(CultureInfo.InvariantCulture, $"  {second,3}-{second + 1,-3} s {count,5} {new string('#', (count + 4) / 5)}\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"  p10 {Percentile(sorted, 0.1):0.0} s, p50 {Percentile(sorted, 0.5):0.0} s, p90 {Percentile(sorted, 0.9):0.0} s, last {sorted[^1]:0.0} s");
        return text.ToString();
    }

    private async Task<HostProcess> StartServerAsync() =>
        (await _control.StartAsync(
            $"--Server:MqttPort={_control.MqttPort}", "--Logging:LogLevel:Default=Warning",
            $"--Attestation:AllowedAgentBuilds:*:0={FleetSimulator.MeasureBuild()}")).Process;
}
