using System.Net;
using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.Tests.Sockets;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.ControlPlane.Host.Tests.Broker;

public sealed class BrokerListenerTests(ControlPlaneFactory server) : IClassFixture<ControlPlaneFactory>
{
    [Fact]
    public void EmbeddedBroker_DefaultBindAddress_ListensOnLoopbackOnlyNeverOnEveryIPv6Interface()
    {
        using var client = server.CreateClient();
        var port = server.Services.GetRequiredService<ServerBootstrap>().MqttPort;

        var listening = ListeningSockets.On(port);

        Assert.NotEmpty(listening);
        Assert.All(listening, address => Assert.True(IPAddress.IsLoopback(address), $"the broker's port {port} listens on {address}"));
    }
}
