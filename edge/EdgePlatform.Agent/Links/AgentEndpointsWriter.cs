using EdgePlatform.Agent.Core;
using EdgePlatform.Agent.Core.Identity;
using EdgePlatform.Agent.Core.Reconciliation;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Links;

/// <summary>Announces the running agent in <c>agent.json</c> once it has an identity and a local broker.</summary>
public sealed partial class AgentEndpointsWriter(
    DeviceIdentityProvider identity,
    IOptions<AgentOptions> agentOptions,
    LocalBroker broker,
    Reconciler reconciler,
    ILogger<AgentEndpointsWriter> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var device = await identity.GetAsync(stoppingToken).ConfigureAwait(false);
        await reconciler.Started.WaitAsync(stoppingToken).ConfigureAwait(false);
        var endpoints = new AgentEndpoints(device.DeviceId, broker.Host, broker.Port, Environment.ProcessId);
        var path = Path.Combine(agentOptions.Value.DataDirectory, AgentEndpoints.FileName);
        await File.WriteAllBytesAsync(path + ".tmp", System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(endpoints, ContractsJsonContext.Default.AgentEndpoints), stoppingToken).ConfigureAwait(false);
        File.Move(path + ".tmp", path, overwrite: true);
        LogReady(device.DeviceId, endpoints.LocalBrokerHost, endpoints.LocalBrokerPort, agentOptions.Value.DataDirectory);
    }

    [LoggerMessage(EventId = 2300, Level = LogLevel.Information, Message = "Agent {DeviceId} ready: local events on {Host}:{Port}, data directory {DataDirectory}")]
    private partial void LogReady(string deviceId, string host, int port, string dataDirectory);
}
