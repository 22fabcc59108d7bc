using System.Net.Http.Json;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgePlatform.ControlPlane.Host.Tests.Broker;

/// <summary>
/// A device's steps as it really sends them — reported twins over the embedded broker with
/// mutual TLS — read by the rollout worker on its own clock, and shown by the rollout API.
/// </summary>
public sealed class RolloutStepsOverBrokerTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly ControlPlaneFactory _server = ControlPlaneFactory.With(new Dictionary<string, string> { ["Rollouts:TickSeconds"] = "1" });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ReportedIncomingSlot_EachStepOverTheBroker_RolloutDeviceFollowsAndKeepsTheHistory()
    {
        const string DeviceId = "dev-rollout-steps";
        using var device = await _server.EnrollAsync(DeviceId);
        using var http = _server.CreateClient();
        using var tags = await http.PutAsJsonAsync($"/api/v1/devices/{DeviceId}/tags", new SetTagsRequest(new Dictionary<string, string> { ["site"] = "steps" }), ContractsJsonContext.Default.SetTagsRequest);
        tags.EnsureSuccessStatusCode();
        var model = new ModelRecord("models/steps", "steps", "1", "sha256:" + new string('5', 64), 10, "sha256:" + new string('6', 64), 20, "c2ln", new Dictionary<string, double>(), DateTimeOffset.UtcNow);
        await _server.Services.GetRequiredService<IModelStore>().AddModelAsync(model, CancellationToken.None);
        using var created = await http.PostAsJsonAsync(
            "/api/v1/rollouts",
            new CreateRolloutRequest("steps:1", "site=steps", 0, [new RolloutStage(100, null, 3600)], null),
            ContractsJsonContext.Default.CreateRolloutRequest);
        var rollout = (await created.Content.ReadFromJsonAsync(ContractsJsonContext.Default.RolloutInfo))!;
        var desiredVersion = (await http.GetFromJsonAsync($"/api/v1/devices/{DeviceId}", ContractsJsonContext.Default.DeviceInfo))!.DesiredVersion;
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(device.MqttOptions()).WaitAsync(Timeout);

        foreach (var (slotState, expected) in new[]
        {
            (ModelSlotStates.Downloading, RolloutDeviceStates.Downloading),
            (ModelSlotStates.Verifying, RolloutDeviceStates.Verifying),
            (ModelSlotStates.Staged, RolloutDeviceStates.Staged),
        })
        {
            await ReportAsync(client, DeviceId, new ReportedState("1.0.0", desiredVersion, [Slot(ModelSlots.Incoming, model, slotState)], null, DateTimeOffset.UtcNow));
            Assert.Equal(expected, (await WaitForStateAsync(http, rollout.Id, expected)).State);
        }

        await ReportAsync(client, DeviceId, new ReportedState("1.0.0", desiredVersion, [Slot(ModelSlots.Primary, model, ModelSlotStates.Active)], null, DateTimeOffset.UtcNow));
        var active = await WaitForStateAsync(http, rollout.Id, RolloutDeviceStates.Active);

        Assert.Equal(
            [RolloutDeviceStates.Pending, RolloutDeviceStates.Deploying, RolloutDeviceStates.Downloading, RolloutDeviceStates.Verifying, RolloutDeviceStates.Staged, RolloutDeviceStates.Active],
            active.History!.Select(h => h.State));
    }

    private static ModelSlotReport Slot(string slot, ModelRecord model, string state) =>
        new(slot, model.Name, model.Version, model.ManifestDigest, state, DateTimeOffset.UtcNow);

    private static async Task ReportAsync(IMqttClient client, string deviceId, ReportedState reported)
    {
        var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(Topics.Reported(deviceId))
            .WithPayload(JsonSerializer.SerializeToUtf8Bytes(reported, ContractsJsonContext.Default.ReportedState))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build()).WaitAsync(Timeout);
        Assert.True(result.IsSuccess, $"publish refused: {result.ReasonCode}");
    }

    /// <summary>The device's entry once the worker has moved it to <paramref name="state"/>, or its last entry at the deadline.</summary>
    private static async Task<RolloutDevice> WaitForStateAsync(HttpClient http, string rolloutId, string state)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var detail = await http.GetFromJsonAsync($"/api/v1/rollouts/{rolloutId}", ContractsJsonContext.Default.RolloutDetail);
            var entry = Assert.Single(detail!.Devices);
            if (entry.State == state || DateTime.UtcNow > deadline)
            {
                return entry;
            }

            await Task.Delay(100);
        }
    }
}
