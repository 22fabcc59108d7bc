using System.Net;
using EdgePlatform.Agent.Links;
using EdgePlatform.Tests.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Tests.Links;

public sealed class LocalBrokerListenerTests
{
    [Fact]
    public async Task StartAsync_DefaultHost_ListensOnLoopbackOnlyNeverOnEveryIPv6Interface()
    {
        using var broker = new LocalBroker(Options.Create(new LocalBrokerOptions { Port = 0 }), NullLogger<LocalBroker>.Instance);
        await broker.StartAsync(CancellationToken.None);
        try
        {
            var listening = ListeningSockets.On(broker.Port);

            Assert.NotEmpty(listening);
            Assert.All(listening, address => Assert.True(IPAddress.IsLoopback(address), $"the local broker's port {broker.Port} listens on {address}"));
        }
        finally
        {
            await broker.StopAsync(CancellationToken.None);
        }
    }
}
