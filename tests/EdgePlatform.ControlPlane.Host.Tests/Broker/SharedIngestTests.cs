using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Host.Broker;
using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.ControlPlane.Leases;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Telemetry;
using EdgePlatform.Mqtt;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace EdgePlatform.ControlPlane.Host.Tests.Broker;

/// <summary>
/// Control-plane replicas sharing device ingest through mosquitto 2 (configured from the files the
/// control plane writes) and one store: each device message is stored once, by one replica, also
/// when a replica goes away holding messages it had not acknowledged.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SharedIngestTests(ITestOutputHelper output) : IAsyncLifetime, IDisposable
{
    private const int Devices = 4;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly string _directory = Directory.CreateTempSubdirectory("edgeplatform-shared-ingest-").FullName;
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly TestMeterFactory _meters = new();
    private ServerBootstrap _bootstrap = null!;
    private IOptions<BrokerOptions> _options = null!;
    private Stores _stores = null!;
    private Process? _mosquitto;
    private long _sequence;

    public async Task InitializeAsync()
    {
        var binary = MosquittoFixture.Binary
            ?? throw new InvalidOperationException("mosquitto is not installed: run tests/run.sh, which installs it (or apt-get install mosquitto)");
        _bootstrap = ServerBootstrap.Prepare(new ServerOptions { DataDirectory = Path.Combine(_directory, "data"), HttpPort = 0, MqttPort = 0 });
        _options = Options.Create(new BrokerOptions
        {
            Mode = "external",
            Host = "127.0.0.1",
            Port = FreePort(),
            MosquittoConfigDirectory = Path.Combine(_directory, "mosquitto"),
        });
        _stores = Stores.OpenSqlite(Path.Combine(_directory, "edgeplatform.db"));
        for (var i = 0; i < Devices; i++)
        {
            await _stores.Devices.UpsertDeviceAsync(
                new DeviceRecord(DeviceId(i), new Dictionary<string, string>(), "h", Start, DeviceStatuses.Online, null, null, null), CancellationToken.None);
        }

        using var credentials = Credentials("config");
        using var writer = new MosquittoConfigWriter(_bootstrap, credentials, _stores.Devices, _options, TimeProvider.System, NullLogger<MosquittoConfigWriter>.Instance);
        await writer.StartAsync(CancellationToken.None);

        // As root, mosquitto would switch to its own user, which cannot read the server key here.
        var config = Path.Combine(_options.Value.MosquittoConfigDirectory!, "test-mosquitto.conf");
        await File.WriteAllTextAsync(config, (Environment.UserName == "root" ? "user root\n" : string.Empty)
            + await File.ReadAllTextAsync(Path.Combine(_options.Value.MosquittoConfigDirectory!, MosquittoConfigWriter.ConfigFileName)));
        _mosquitto = Process.Start(new ProcessStartInfo(binary, ["-c", config]) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false })!;
        _mosquitto.OutputDataReceived += (_, _) => { };
        _mosquitto.ErrorDataReceived += (_, _) => { };
        _mosquitto.BeginOutputReadLine();
        _mosquitto.BeginErrorReadLine();
    }

    [Fact]
    public async Task Publish_TwoReplicasShareTheSubscription_EachMessageStoredOnceByOneOfThem()
    {
        const int PerDevice = 25;
        var a = await StartReplicaAsync("replica-a");
        var b = await StartReplicaAsync("replica-b");
        var devices = await ConnectDevicesAsync();

        await PublishAsync(devices, PerDevice);
        await WaitAsync(() => a.Count + b.Count == Devices * PerDevice);

        Assert.Equal(Devices * PerDevice, await StoredReportsAsync());
        Assert.Equal(Devices * PerDevice, a.Count + b.Count);
        Assert.InRange(a.Count, 1, Devices * PerDevice - 1);
        Assert.InRange(b.Count, 1, Devices * PerDevice - 1);
        Assert.Equal(0, await ReplayedAsync());
    }

    [Fact]
    public async Task Reconnect_ReplicaWentAwayWithoutAcknowledging_ItsMessagesDeliveredAgainAndStoredOnce()
    {
        const int PerDevice = 10;
        var a = await StartReplicaAsync("replica-a");

        // Replica b as far as the broker can tell, but one that never acknowledges: it goes away
        // holding what it received, as a replica killed before its store committed does.
        var held = 0;
        using var credentials = Credentials("replica-b");
        var dying = new MqttConnection(
            new MqttConnectionSettings("127.0.0.1", _options.Value.Port, credentials.ControlPlaneClientId)
            {
                ClientCertificate = credentials.ClientCertificate,
                TrustedCa = credentials.CaCertificate,
                SessionExpiry = _options.Value.SessionExpiry,
            },
            NullLogger.Instance);
        foreach (var filter in _options.Value.ControlPlaneFilters())
        {
            dying.Subscribe(filter);
        }

        dying.OnDelivery((_, _) =>
        {
            Interlocked.Increment(ref held);
            return Task.CompletedTask;
        });
        dying.Start();
        using (var connect = new CancellationTokenSource(Timeout))
        {
            await dying.WaitConnectedAsync(connect.Token);
        }

        var devices = await ConnectDevicesAsync();
        await PublishAsync(devices, PerDevice);
        await WaitAsync(() => a.Count + Volatile.Read(ref held) == Devices * PerDevice);
        var heldWhenGone = Volatile.Read(ref held);
        await dying.DisposeAsync();
        Assert.InRange(heldWhenGone, 1, Devices * PerDevice - 1);
        Assert.Equal(Devices * PerDevice - heldWhenGone, await StoredReportsAsync());

        // While b is away its session stays a member of the group: mosquitto 2.0 goes on handing
        // it its turn of new messages, which wait in that session (none go to a instead).
        var storedByABeforeAway = a.Count;
        await PublishAsync(devices, PerDevice);
        await WaitAsync(() => a.Count > storedByABeforeAway);

        // b comes back under the same replica id: its session gives it what it held and what was
        // queued for it meanwhile, and everything is stored exactly once.
        var b = await StartReplicaAsync("replica-b");
        await WaitAsync(async () => await StoredReportsAsync() == 2 * Devices * PerDevice);

        Assert.Equal(2 * Devices * PerDevice, await StoredReportsAsync());
        Assert.Equal(2 * Devices * PerDevice, a.Count + b.Count);
        output.WriteLine($"b held {heldWhenGone} when it went away; while it was away a stored {a.Count - storedByABeforeAway} of {Devices * PerDevice}; b stored {b.Count} once back");
        Assert.InRange(b.Count, heldWhenGone + 1, 2 * Devices * PerDevice - 1);
        Assert.Equal(0, await ReplayedAsync());
    }

    public async Task DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }

        if (_mosquitto is { HasExited: false })
        {
            _mosquitto.Kill();
            await _mosquitto.WaitForExitAsync();
        }

        _mosquitto?.Dispose();
        _stores?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    public void Dispose() => _meters.Dispose();

    private static string DeviceId(int index) => $"dev-shared-{index}";

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task WaitAsync(Func<bool> done) => await WaitAsync(() => Task.FromResult(done()));

    private static async Task WaitAsync(Func<Task<bool>> done)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < deadline, "not done within the timeout");
            await Task.Delay(50);
        }
    }

    private BrokerCredentials Credentials(string replicaId) =>
        new(_bootstrap, _options, Options.Create(new ReplicaOptions { Id = replicaId }), TimeProvider.System);

    /// <summary>A replica's link and router over the shared store, counting the reports it handed to the store.</summary>
    private async Task<CountingTelemetryStore> StartReplicaAsync(string replicaId)
    {
        var telemetry = DispatchProxy.Create<ITelemetryStore, CountingTelemetryStore>();
        var counting = (CountingTelemetryStore)telemetry;
        counting.Inner = _stores.Telemetry;
        var time = TimeProvider.System;
        var router = new DeviceMessageRouter(
            new FleetService(_stores.Devices, new NoSessions(), Options.Create(new EnrollmentOptions()), time, NullLogger<FleetService>.Instance),
            new TelemetryIngestService(_stores.Devices, telemetry, new TelemetryMetrics(_meters), time, NullLogger<TelemetryIngestService>.Instance),
            Options.Create(new TelemetryStoreOptions()),
            time,
            NullLogger<DeviceMessageRouter>.Instance);
        var credentials = Credentials(replicaId);
        var link = new MqttDeviceLink(_bootstrap, credentials, _options, _stores.Devices, router, NullLoggerFactory.Instance);
        _owned.Add(new Owned(router, link, credentials));
        await router.StartAsync(CancellationToken.None);
        await link.StartAsync(CancellationToken.None);
        using var connect = new CancellationTokenSource(Timeout);
        await link.WaitConnectedAsync(connect.Token);
        return counting;
    }

    private async Task<IReadOnlyList<(string DeviceId, MqttConnection Connection)>> ConnectDevicesAsync()
    {
        var devices = new List<(string, MqttConnection)>();
        for (var i = 0; i < Devices; i++)
        {
            var id = DeviceId(i);
            var certificate = _bootstrap.DeviceCa.IssueClientCertificate(id, DateTimeOffset.UtcNow, TimeSpan.FromDays(1));
            var ca = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(_bootstrap.DeviceCa.CertificatePem);
            var connection = new MqttConnection(
                new MqttConnectionSettings("127.0.0.1", _options.Value.Port, id) { ClientCertificate = certificate, TrustedCa = ca },
                NullLogger.Instance);
            _owned.Add(connection);
            connection.Start();
            using var connect = new CancellationTokenSource(Timeout);
            await connection.WaitConnectedAsync(connect.Token);
            devices.Add((id, connection));
        }

        return devices;
    }

    /// <summary>One health report per message, each with a sequence of its own, round the devices.</summary>
    private async Task PublishAsync(IReadOnlyList<(string DeviceId, MqttConnection Connection)> devices, int perDevice)
    {
        for (var round = 0; round < perDevice; round++)
        {
            foreach (var (id, connection) in devices)
            {
                var sequence = Interlocked.Increment(ref _sequence);
                var report = new TelemetryRecord(sequence, Start.AddSeconds(sequence), "m", "1", null, 10, 10, 0, 0, 1, 2, 3, 4, 5);
                using var publish = new CancellationTokenSource(Timeout);
                await connection.PublishAsync(Topics.Telemetry(id, TelemetryKinds.Health), TelemetryArrow.Serialize(id, [report]), publish.Token, requireSubscriber: true);
            }
        }
    }

    private async Task<long> StoredReportsAsync() =>
        (await _stores.Telemetry.SummarizeAsync(null, CancellationToken.None)).Sum(summary => (long)summary.Reports);

    private async Task<long> ReplayedAsync() =>
        (await _stores.Telemetry.ListRejectionsAsync(CancellationToken.None)).Where(r => r.Reason == TelemetryRejections.ReplayedSequence).Sum(r => r.Count);

    /// <summary>Forwards to the store, counting the reports each write hands it.</summary>
    public class CountingTelemetryStore : DispatchProxy
    {
        private int _count;

        public ITelemetryStore Inner { get; set; } = null!;

        public int Count => Volatile.Read(ref _count);

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            ArgumentNullException.ThrowIfNull(targetMethod);
            if (targetMethod.Name == nameof(ITelemetryStore.WriteTelemetryAsync) && args?[0] is TelemetryWrite write)
            {
                return CountAsync(write, (CancellationToken)args[1]!);
            }

            try
            {
                return targetMethod.Invoke(Inner, args);
            }
            catch (TargetInvocationException ex) when (ex.InnerException is not null)
            {
                throw ex.InnerException;
            }
        }

        private async Task<IReadOnlyList<StoredTelemetry>> CountAsync(TelemetryWrite write, CancellationToken cancellationToken)
        {
            var stored = await Inner.WriteTelemetryAsync(write, cancellationToken);
            Interlocked.Add(ref _count, write.Batches.Sum(batch => batch.Records.Count));
            return stored;
        }
    }

    private sealed class NoSessions : IDeviceSessions
    {
        public Task CloseAsync(string deviceId, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>Stops a replica's link before its router, as the host does.</summary>
    private sealed class Owned(DeviceMessageRouter router, MqttDeviceLink link, BrokerCredentials credentials) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await link.DisposeAsync();
            await router.StopAsync(CancellationToken.None);
            router.Dispose();
            credentials.Dispose();
        }
    }
}
