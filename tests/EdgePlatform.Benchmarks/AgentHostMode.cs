using System.Text;
using System.Text.Json;
using EdgePlatform.Agent;
using EdgePlatform.Agent.Core;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Http;
using EdgePlatform.Agent.Links;
using EdgePlatform.Contracts;
using EdgePlatform.Mqtt;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MQTTnet.Protocol;

namespace EdgePlatform.Benchmarks;

/// <summary>
/// The agent's scoring host as its own process: the embedded local broker, the engine, the
/// broker event source and the v2 HTTP endpoint, registered through the agent's own extension
/// methods. Enrollment, the reconciler and the cloud link are left out; the model is activated through the same
/// <see cref="IModelRuntime"/> the reconciler uses, from a card and ONNX file on disk.
/// A message on <see cref="SwapTopic"/> stages and activates the same model under a new version.
/// </summary>
internal static class AgentHostMode
{
    public const string SwapTopic = "bench/swap";
    public const string SwappedTopic = "bench/swapped";

    public static async Task<int> RunAsync(string cardPath, string modelPath, string[] settings)
    {
        var builder = WebApplication.CreateBuilder(settings);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);

        // The agent's own registrations, less enrollment, the reconciler and the cloud link: a
        // dependency added to the scoring path arrives here with them, and a missing one fails
        // the build of the container rather than the first request.
        builder.Host.UseDefaultServiceProvider(provider => provider.ValidateOnBuild = true);
        builder.Services.AddScoringMetrics();
        builder.Services.AddLocalBroker();
        builder.Services.AddOnnxScoring();
        var card = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(cardPath), ContractsJsonContext.Default.ModelCard)!;
        builder.Services.AddHostedService(sp => new ModelActivator(
            sp.GetRequiredService<IModelRuntime>(), sp.GetRequiredService<LocalBroker>(), card, modelPath, sp.GetRequiredService<ILoggerFactory>()));
        await using var app = builder.Build();
        app.MapInferenceProtocolApi();
        await app.RunAsync();
        return 0;
    }

    private sealed class ModelActivator(IModelRuntime runtime, LocalBroker broker, ModelCard card, string modelPath, ILoggerFactory loggers) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            await ActivateAsync(card.Version, stoppingToken);
            await using var control = new MqttConnection(
                new MqttConnectionSettings(broker.Host, broker.Port, "bench-control") { CleanStart = true }, loggers.CreateLogger<MqttConnection>());
            control.Subscribe(SwapTopic);
            control.OnMessage(async (message, ct) =>
            {
                var version = Encoding.UTF8.GetString(message.Payload.Span);
                await ActivateAsync(version, ct);
                await control.PublishAsync(SwappedTopic, message.Payload, ct, MqttQualityOfServiceLevel.AtLeastOnce);
            });
            control.Start();
            await Task.Delay(Timeout.Infinite, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        private async Task ActivateAsync(string version, CancellationToken cancellationToken)
        {
            var installed = new InstalledModel(
                new ModelReference("benchmark", card.Name, version, "sha256:" + new string('0', 64), 0, string.Empty),
                card with { Version = version },
                modelPath);
            var staged = await runtime.StageAsync(installed, cancellationToken);
            runtime.Activate(staged);
        }
    }
}
