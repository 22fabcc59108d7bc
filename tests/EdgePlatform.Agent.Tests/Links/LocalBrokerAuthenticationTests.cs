using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using EdgePlatform.Agent.Links;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Tests.Links;

/// <summary>
/// The embedded broker with users configured, reached by Debian's stock mosquitto clients: one
/// user from <c>LocalBroker:Users</c>, one from a file written by mosquitto_passwd.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the test through IAsyncLifetime.DisposeAsync.")]
public sealed class LocalBrokerAuthenticationTests : IAsyncLifetime
{
    private const int MaxPacketBytes = 64 * 1024;
    private const string ConfiguredUser = "sensor-1";
    private const string ConfiguredPassword = "pump-hall-sensor-1";
    private const string FileUser = "sensor-2";
    private const string FilePassword = "pump-hall-sensor-2";

    private readonly string _directory = Directory.CreateTempSubdirectory("edgeplatform-broker-auth-").FullName;
    private readonly Channel<(string Topic, string Payload)> _events = Channel.CreateUnbounded<(string, string)>();
    private readonly Channel<string> _refusals = Channel.CreateUnbounded<string>();
    private ServiceProvider? _meters;
    private MeterListener? _listener;
    private LocalBroker? _broker;

    public async Task InitializeAsync()
    {
        var passwordFile = Path.Combine(_directory, "passwd");
        using (var passwd = System.Diagnostics.Process.Start("mosquitto_passwd", ["-c", "-b", passwordFile, FileUser, FilePassword]))
        {
            await passwd.WaitForExitAsync();
            Assert.Equal(0, passwd.ExitCode);
        }

        _meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meterFactory = _meters.GetRequiredService<IMeterFactory>();
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == meterFactory)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                _refusals.Writer.TryWrite((string)tag.Value!);
            }
        });
        _listener.Start();

        var options = new LocalBrokerOptions { Port = 0, MaxPacketBytes = MaxPacketBytes, PasswordFile = passwordFile };
        options.Users.Add(new LocalBrokerUser { Name = ConfiguredUser, PasswordHash = BrokerPasswordHash.Create(ConfiguredPassword, iterations: 1000) });
        _broker = new LocalBroker(Options.Create(options), NullLogger<LocalBroker>.Instance, meterFactory);
        await _broker.StartAsync(CancellationToken.None);
        Assert.True(_broker.TryTap(options.EventsTopic, (message, _) =>
        {
            _events.Writer.TryWrite((message.Topic, Encoding.UTF8.GetString(message.Payload.Span)));
            return Task.CompletedTask;
        }));
    }

    [Fact]
    public async Task Publish_WithoutCredentials_IsRefusedAndReachesNoOne()
    {
        var (exitCode, output) = await PublishAsync(null, null, "events/pump-1", "anonymous");

        Assert.NotEqual(0, exitCode);
        Assert.Equal("login", await NextRefusalAsync());
        await AssertServedAsync(output);
    }

    [Fact]
    public async Task Publish_WrongPassword_IsRefusedAndReachesNoOne()
    {
        var (exitCode, output) = await PublishAsync(ConfiguredUser, FilePassword, "events/pump-1", "impostor");

        Assert.NotEqual(0, exitCode);
        Assert.Equal("login", await NextRefusalAsync());
        await AssertServedAsync(output);
    }

    [Theory]
    [InlineData(ConfiguredUser, ConfiguredPassword)]
    [InlineData(FileUser, FilePassword)]
    public async Task Publish_SensorWithCredentials_EventReachesTheAgent(string user, string password)
    {
        var (exitCode, output) = await PublishAsync(user, password, "events/pump-1", $"{{\"id\":\"{user}\"}}");

        Assert.True(exitCode == 0, output);
        Assert.Equal(("events/pump-1", $"{{\"id\":\"{user}\"}}"), await NextEventAsync());
    }

    [Fact]
    public async Task SensorSubscribedToPredictions_GetsTheAgentsPredictionsButNoneASensorForged()
    {
        await using var subscriber = Subscribe("predictions");
        Assert.Equal(0, await subscriber.GrantedAsync());

        // MQTT 5 at QoS 1: mosquitto_pub waits for the broker's answer, so the forgery is decided before the agent publishes.
        await PublishAsync(FileUser, FilePassword, "predictions", "forged", "-V", "5", "-q", "1");
        await _broker!.PublishInProcessAsync("predictions", Encoding.UTF8.GetBytes("genuine"), "text/plain", CancellationToken.None);

        Assert.Equal("genuine", await subscriber.NextMessageAsync());
        Assert.Equal("publish_not_permitted", await NextRefusalAsync());
    }

    [Fact]
    public async Task Subscribe_SensorToEveryEvent_IsRefused()
    {
        await using var subscriber = Subscribe("events/#");

        Assert.Equal(128, await subscriber.GrantedAsync());
        Assert.Equal("subscribe_not_permitted", await NextRefusalAsync());
    }

    [Fact]
    public async Task Publish_OverMaxPacketBytes_IsRefusedCountedAndTheBrokerKeepsServing()
    {
        var oversized = Path.Combine(_directory, "oversized.json");
        await File.WriteAllTextAsync(oversized, $"{{\"id\":\"big\",\"pad\":\"{new string('x', MaxPacketBytes)}\"}}");

        await PublishAsync(ConfiguredUser, ConfiguredPassword, "events/pump-1", null, "-f", oversized);

        Assert.Equal("packet_too_large", await NextRefusalAsync());
        var (exitCode, output) = await PublishAsync(ConfiguredUser, ConfiguredPassword, "events/pump-1", "{\"id\":\"after\"}");
        Assert.True(exitCode == 0, output);
        Assert.Equal(("events/pump-1", "{\"id\":\"after\"}"), await NextEventAsync());
    }

    [Fact]
    public async Task PublishInProcess_OverMaxPacketBytes_ReachesSubscribers()
    {
        await using var subscriber = Subscribe("predictions");
        Assert.Equal(0, await subscriber.GrantedAsync());
        var large = new string('p', MaxPacketBytes + 1);

        await _broker!.PublishInProcessAsync("predictions", Encoding.UTF8.GetBytes(large), "text/plain", CancellationToken.None);

        Assert.Equal(large, await subscriber.NextMessageAsync());
    }

    [Fact]
    public void PasswordHash_WrittenByMosquittoPasswd_MatchesOnlyItsPassword()
    {
        var line = File.ReadLines(Path.Combine(_directory, "passwd")).Single();

        Assert.True(BrokerPasswordHash.TryParse(line[(FileUser.Length + 1)..], out var hash, out var error), error);
        Assert.True(hash.Matches(Encoding.UTF8.GetBytes(FilePassword)));
        Assert.False(hash.Matches(Encoding.UTF8.GetBytes(ConfiguredPassword)));
    }

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.StopAsync(CancellationToken.None);
            _broker.Dispose();
        }

        _listener?.Dispose();
        if (_meters is not null)
        {
            await _meters.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }

    private static string[] Login(string user, string password) => ["-u", user, "-P", password];

    private MosquittoSubscriber Subscribe(string topicFilter) =>
        MosquittoSubscriber.Start([.. Login(ConfiguredUser, ConfiguredPassword), "-h", _broker!.Host, "-p", _broker.Port.ToString(CultureInfo.InvariantCulture), "-i", "test-subscriber", "-t", topicFilter]);

    /// <summary>The broker still answers, and nothing of the refused client reached the agent.</summary>
    private async Task AssertServedAsync(string refusedOutput)
    {
        var (exitCode, output) = await PublishAsync(ConfiguredUser, ConfiguredPassword, "events/pump-1", "{\"id\":\"probe\"}");
        Assert.True(exitCode == 0, output);
        Assert.Equal(("events/pump-1", "{\"id\":\"probe\"}"), await NextEventAsync());
        Assert.False(_events.Reader.TryRead(out var unexpected), $"{unexpected} reached the agent; the refused client printed: {refusedOutput}");
    }

    private Task<(int ExitCode, string Output)> PublishAsync(string? user, string? password, string topic, string? message, params string[] extra)
    {
        List<string> arguments = ["-h", _broker!.Host, "-p", _broker.Port.ToString(CultureInfo.InvariantCulture), "-t", topic];
        if (!extra.Contains("-V"))
        {
            // Over MQTT 3.1.1 the broker needs a client id; over MQTT 5 it assigns one.
            arguments.AddRange(["-i", $"test-{Guid.NewGuid():N}"[..20]]);
        }

        if (user is not null)
        {
            arguments.AddRange(Login(user, password!));
        }

        if (message is not null)
        {
            arguments.AddRange(["-m", message]);
        }

        return MosquittoClients.PublishAsync([.. arguments, .. extra]);
    }

    private async Task<(string Topic, string Payload)> NextEventAsync()
    {
        using var timeout = new CancellationTokenSource(MosquittoClients.Patience);
        return await _events.Reader.ReadAsync(timeout.Token);
    }

    private async Task<string> NextRefusalAsync()
    {
        using var timeout = new CancellationTokenSource(MosquittoClients.Patience);
        return await _refusals.Reader.ReadAsync(timeout.Token);
    }
}
