using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Broker;
using EdgePlatform.Security.Pki;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgePlatform.ControlPlane.Host.Tests.Broker;

/// <summary>
/// Who may connect to the device link and what each device may touch, seen from real MQTT
/// clients over mutual TLS. The same tests run against the embedded broker and against
/// mosquitto configured from the control plane's own CA.
/// </summary>
public abstract class DeviceLinkSecurityTests
{
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    protected abstract ControlPlaneFactory Server { get; }

    /// <summary>
    /// The embedded broker refuses a forbidden subscription in SUBACK; mosquitto grants it and
    /// filters every delivery by the ACL. Either way nothing of another device's arrives.
    /// </summary>
    protected abstract bool RefusesForbiddenSubscriptions { get; }

    /// <summary>The embedded broker counts its refusals on the server's limits meter; mosquitto logs its own.</summary>
    protected abstract bool CountsRefusals { get; }

    [Fact]
    public async Task Publish_PacketOverMaxPacketBytes_ClientDroppedMessageNotDeliveredOthersServed()
    {
        var limit = Server.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<BrokerOptions>>().Value.MaxPacketBytes;
        using var refusals = new LimitRefusals(Server.Services);
        await using var spy = await ConnectSpyAsync();
        using var sender = await EnrollAsync("link-oversized");
        using var other = await EnrollAsync("link-ordinary");
        using var client = await ConnectAsync(sender);
        var dropped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.DisconnectedAsync += _ =>
        {
            dropped.TrySetResult();
            return Task.CompletedTask;
        };

        try
        {
            await client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic($"devices/{sender.Id}/status")
                .WithPayload(new byte[limit + 1024])
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build()).WaitAsync(Timeout);
        }
        catch (MQTTnet.Exceptions.MqttCommunicationException)
        {
            // mosquitto closes the connection without an acknowledgement.
        }

        await dropped.Task.WaitAsync(Timeout);
        using var ordinary = await ConnectAsync(other);
        await PublishAsync(ordinary, $"devices/{other.Id}/status", "online");
        var seen = await spy.WaitForAsync($"devices/{other.Id}/status");
        Assert.DoesNotContain(seen, m => m.Topic == $"devices/{sender.Id}/status");
        if (CountsRefusals)
        {
            Assert.Equal(1, refusals[EdgePlatform.ControlPlane.Host.Hosting.LimitMetrics.MqttPacketSize]);
        }
    }

    [Fact]
    public async Task Connect_DeviceCertificate_Succeeds()
    {
        using var device = await EnrollAsync("link-ok");

        Assert.Equal(MqttClientConnectResultCode.Success, await ConnectResultAsync(device, device.Certificate, device.Id));
    }

    [Fact]
    public async Task Connect_WithoutCertificate_IsRefused()
    {
        using var device = await EnrollAsync("link-no-cert");

        await AssertRefusedAsync(device, certificate: null, device.Id);
    }

    [Fact]
    public async Task Connect_CertificateFromAnotherCa_IsRefused()
    {
        using var device = await EnrollAsync("link-other-ca");
        using var otherCa = CertificateAuthority.Create("someone else's CA", DateTimeOffset.UtcNow);
        var (key, csr) = TestDevices.NewKey(device.Id);
        using (key)
        {
            using var issued = otherCa.IssueDeviceCertificate(csr, device.Id, DateTimeOffset.UtcNow, TimeSpan.FromDays(1));
            using var forged = issued.CopyWithPrivateKey(key);

            await AssertRefusedAsync(device, forged, device.Id);
        }
    }

    [Fact]
    public async Task Publish_UnderAnotherDevicesTopics_IsNotDelivered()
    {
        using var attacker = await EnrollAsync("link-pub-a");
        using var victim = await EnrollAsync("link-pub-b");
        await using var spy = await ConnectSpyAsync();
        using var client = await ConnectAsync(attacker);

        await PublishAsync(client, Topics.Reported(victim.Id), "forged");
        await PublishAsync(client, Topics.Desired(attacker.Id), "forged");
        await PublishAsync(client, Topics.Reported(attacker.Id), "sentinel");

        // Messages from one client arrive in order: once the sentinel is in, nothing forged can follow.
        var received = await spy.WaitForAsync(Topics.Reported(attacker.Id));
        Assert.DoesNotContain(received, m => m.Payload == "forged");
    }

    [Fact]
    public async Task Subscribe_AnotherDevicesTopics_IsRefused()
    {
        using var attacker = await EnrollAsync("link-sub-a");
        using var victim = await EnrollAsync("link-sub-b");
        using var client = await ConnectAsync(attacker);
        var received = new List<string>();
        client.ApplicationMessageReceivedAsync += args =>
        {
            lock (received)
            {
                received.Add(args.ApplicationMessage.Topic);
            }

            return Task.CompletedTask;
        };

        var result = await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(Topics.DeviceFilter(victim.Id), MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter(Topics.Desired(attacker.Id), MqttQualityOfServiceLevel.AtLeastOnce)
            .Build()).WaitAsync(Timeout);

        if (RefusesForbiddenSubscriptions)
        {
            Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, result.Items.First().ResultCode);
        }

        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, result.Items.Last().ResultCode);

        // And nothing of the victim's reaches the attacker: publish to both, wait for the attacker's own.
        await using var controlPlane = await ConnectSpyAsync();
        await controlPlane.PublishAsync(Topics.Desired(victim.Id), "secret");
        await controlPlane.PublishAsync(Topics.Desired(attacker.Id), "mine");
        await WaitUntilAsync(() => { lock (received) { return received.Contains(Topics.Desired(attacker.Id)); } });
        lock (received)
        {
            Assert.DoesNotContain(Topics.Desired(victim.Id), received);
        }
    }

    protected async Task<TestDevice> EnrollAsync(string deviceId) => await Server.EnrollAsync(deviceId);

    protected static async Task<MqttClientConnectResultCode> ConnectResultAsync(TestDevice device, X509Certificate2? certificate, string clientId)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(device.MqttOptions(certificate, clientId)).WaitAsync(Timeout);
        return result.ResultCode;
    }

    /// <summary>Refused either in the TLS handshake or with a CONNACK error, depending on the broker.</summary>
    protected static async Task AssertRefusedAsync(TestDevice device, X509Certificate2? certificate, string clientId)
    {
        try
        {
            Assert.NotEqual(MqttClientConnectResultCode.Success, await ConnectResultAsync(device, certificate, clientId));
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or MQTTnet.Adapter.MqttConnectingFailedException or System.Security.Authentication.AuthenticationException or IOException)
        {
            // Refused at the handshake or the connection was dropped: refused either way.
        }
    }

    protected static async Task<IMqttClient> ConnectAsync(TestDevice device)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(device.MqttOptions()).WaitAsync(Timeout);
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        return client;
    }

    protected static async Task PublishAsync(IMqttClient client, string topic, string payload)
    {
        try
        {
            await client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic(topic)
                .WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build()).WaitAsync(Timeout);
        }
        catch (MQTTnet.Exceptions.MqttCommunicationException)
        {
            // A broker may drop a client that publishes where it may not; nothing was delivered.
        }
    }

    /// <summary>A client with the control plane's own certificate, subscribed to every device topic.</summary>
    protected async Task<Spy> ConnectSpyAsync()
    {
        var credentials = Server.Services.GetRequiredService<BrokerCredentials>();
        using var probe = await EnrollAsync("link-spy-probe");
        var client = new MqttClientFactory().CreateMqttClient();
        var spy = new Spy(client);
        client.ApplicationMessageReceivedAsync += spy.OnMessageAsync;
        var result = await client.ConnectAsync(probe.MqttOptions(credentials.ClientCertificate, "spy-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)))).WaitAsync(Timeout);
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("devices/#", MqttQualityOfServiceLevel.AtLeastOnce).Build()).WaitAsync(Timeout);
        return spy;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }

    protected sealed class Spy(IMqttClient client) : IAsyncDisposable
    {
        private readonly List<(string Topic, string Payload)> _messages = [];

        public Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs args)
        {
            lock (_messages)
            {
                _messages.Add((args.ApplicationMessage.Topic, args.ApplicationMessage.ConvertPayloadToString()));
            }

            return Task.CompletedTask;
        }

        public async Task<IReadOnlyList<(string Topic, string Payload)>> WaitForAsync(string topic)
        {
            await WaitUntilAsync(() => { lock (_messages) { return _messages.Any(m => m.Topic == topic); } });
            lock (_messages)
            {
                return [.. _messages];
            }
        }

        public Task PublishAsync(string topic, string payload) => DeviceLinkSecurityTests.PublishAsync(client, topic, payload);

        public async ValueTask DisposeAsync()
        {
            await client.DisconnectAsync();
            client.Dispose();
        }
    }
}

/// <summary>The embedded broker, including revocation that closes an open session.</summary>
public sealed class EmbeddedBrokerSecurityTests(ControlPlaneFactory server) : DeviceLinkSecurityTests, IClassFixture<ControlPlaneFactory>
{
    protected override ControlPlaneFactory Server => server;

    protected override bool RefusesForbiddenSubscriptions => true;

    protected override bool CountsRefusals => true;

    /// <summary>mosquitto cannot know of re-enrollment: there an earlier certificate stays valid until it expires (see README).</summary>
    [Fact]
    public async Task Connect_CertificateReplacedByReEnrollment_IsRefused()
    {
        using var first = await EnrollAsync("link-again");
        using var second = await EnrollAsync("link-again");

        await AssertRefusedAsync(first, first.Certificate, first.Id);
        Assert.Equal(MqttClientConnectResultCode.Success, await ConnectResultAsync(second, second.Certificate, second.Id));
    }

    [Fact]
    public async Task Connect_ClientIdOtherThanTheCertificates_IsRefused()
    {
        using var device = await EnrollAsync("link-claims");

        Assert.Equal(MqttClientConnectResultCode.ClientIdentifierNotValid, await ConnectResultAsync(device, device.Certificate, "someone-else"));
    }

    [Fact]
    public async Task Revoke_ConnectedDevice_SessionClosedReconnectAndReEnrollmentRefused()
    {
        using var device = await EnrollAsync("link-revoked");
        using var client = new MqttClientFactory().CreateMqttClient();
        var disconnected = new TaskCompletionSource<MqttClientDisconnectedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.DisconnectedAsync += args =>
        {
            disconnected.TrySetResult(args);
            return Task.CompletedTask;
        };
        await client.ConnectAsync(device.MqttOptions()).WaitAsync(Timeout);

        using var http = server.CreateClient();
        using var revoke = await http.PostAsync(new Uri($"/api/v1/devices/{device.Id}/revoke", UriKind.Relative), null);

        revoke.EnsureSuccessStatusCode();
        await disconnected.Task.WaitAsync(Timeout);
        await AssertRefusedAsync(device, device.Certificate, device.Id);
        using var again = await http.PostAsJsonAsync(
            new Uri("/api/v1/enrollments/devices", UriKind.Relative),
            TestDevices.Request(device.Id, server.EnrollmentKey, out var key),
            ContractsJsonContext.Default.EnrollmentRequest);
        key.Dispose();
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, again.StatusCode);
        var info = await http.GetFromJsonAsync(new Uri($"/api/v1/devices/{device.Id}", UriKind.Relative), ContractsJsonContext.Default.DeviceInfo);
        Assert.Equal(DeviceStatuses.Revoked, info!.Status);
    }
}

/// <summary>mosquitto 2 with the configuration the control plane writes (TLS, require_certificate, use_identity_as_username, ACL patterns).</summary>
[Trait("Category", "Integration")]
public sealed class MosquittoBrokerSecurityTests(MosquittoFixture mosquitto) : DeviceLinkSecurityTests, IClassFixture<MosquittoFixture>
{
    protected override ControlPlaneFactory Server => mosquitto.Server;

    protected override bool RefusesForbiddenSubscriptions => false;

    protected override bool CountsRefusals => false;

    [Fact]
    public async Task Revoke_Device_CertificateOnTheRevocationListRefusedOnceTheBrokerRestarts()
    {
        using var device = await EnrollAsync("link-revoked-m");
        Assert.Equal(MqttClientConnectResultCode.Success, await ConnectResultAsync(device, device.Certificate, device.Id));
        using var http = Server.CreateClient();
        using var revoke = await http.PostAsync(new Uri($"/api/v1/devices/{device.Id}/revoke", UriKind.Relative), null);
        revoke.EnsureSuccessStatusCode();

        await mosquitto.RestartBrokerAsync();

        await AssertRefusedAsync(device, device.Certificate, device.Id);
        using var other = await EnrollAsync("link-not-revoked-m");
        Assert.Equal(MqttClientConnectResultCode.Success, await ConnectResultAsync(other, other.Certificate, other.Id));
    }
}
