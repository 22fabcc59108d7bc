using System.Text;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Datasets;
using EdgePlatform.Training.Scoring;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// Train → sign → serve → pull → verify → score → telemetry, with the control plane and two
/// agents running as separate processes.
/// </summary>
[Trait("Category", "EndToEnd")]
[Collection(SharedPlatform.Name)]
public sealed class WalkingSkeletonTests(PlatformFixture platform)
{
    [Fact]
    public void Listeners_OfTheServerAndAgentsStartedWithDefaults_AreAllOnLoopback()
    {
        foreach (var process in platform.Agents.Values.Prepend(platform.Server))
        {
            var listening = EdgePlatform.Tests.Sockets.ListeningSockets.OfProcess(process.Id);

            Assert.NotEmpty(listening);
            Assert.All(listening, endpoint => Assert.True(System.Net.IPAddress.IsLoopback(endpoint.Address), $"{process.Name} listens on {endpoint}"));
        }
    }

    [Fact]
    public async Task LocalEvent_ScoredOnDevice_EqualsMlNetPredictionAndReachesCloudTelemetry()
    {
        var run = await platform.EnsureBaselineAsync();
        var scorer = new MlNetScorer(await platform.LayerAsync($"models/{run.ModelName}", run.ManifestDigest!, MediaTypes.MlNetModel));
        var dataset = BuiltInDatasets.SensorAnomaly.Load();
        var before = await ScoredSoFarAsync(PlatformFixture.DeviceA);

        // Rows from both classes, so label and probability are compared on each side of the threshold.
        var rows = Enumerable.Range(0, dataset.RowCount).Where(dataset.GetLabel).Take(5)
            .Concat(Enumerable.Range(0, dataset.RowCount).Where(r => !dataset.GetLabel(r)).Take(5))
            .ToList();
        foreach (var row in rows)
        {
            var features = dataset.GetFeatures(row);
            var expected = scorer.Predict(features);
            var id = $"row-{row}";

            var prediction = await platform.Bus(PlatformFixture.DeviceA).ScoreAsync(id, EventJson(id, features));

            Assert.Equal(run.ModelVersion, prediction.ModelVersion);
            Assert.Equal(expected.Label, prediction.Label);
            Assert.InRange(Math.Abs(expected.Probability - prediction.Probability!.Value), 0, 1e-5);
            Assert.InRange(Math.Abs(expected.Score - prediction.Score!.Value), 0, 1e-5);
        }

        await Wait.UntilAsync(
            async () => await ScoredSoFarAsync(PlatformFixture.DeviceA) >= before + rows.Count,
            "the cloud's telemetry to count the scored events");
    }

    [Fact]
    public async Task TamperedModelFile_RefusedByAgent_PreviousModelKeepsServing()
    {
        var baseline = await platform.EnsureBaselineAsync();
        var candidate = await platform.TrainAsync(seed: 7);
        var model = (await platform.Api.ListModelsAsync(default)).Single(m => m.ManifestDigest == candidate.ManifestDigest);

        // An attacker with write access to the registry's storage changes one byte of model.onnx.
        var blob = Path.Combine(platform.ServerDirectory, "blobs", "sha256", ContentDigest.Hex(model.OnnxDigest));
        var bytes = await File.ReadAllBytesAsync(blob);
        bytes[bytes.Length / 2] ^= 0x01;
        await File.WriteAllBytesAsync(blob, bytes);

        var deployment = await platform.Api.DeployAsync(
            new CreateDeploymentRequest($"{candidate.ModelName}:{candidate.ModelVersion}", [PlatformFixture.DeviceB], null), default);
        var device = await platform.WaitForReportAsync(
            PlatformFixture.DeviceB,
            d => d.Reported?.LastError is not null && d.Reported.DesiredVersion == d.DesiredVersion,
            "device B to report on the tampered deployment");

        Assert.Contains("layer-digest check failed", device.Reported!.LastError, StringComparison.Ordinal);
        Assert.True(PlatformFixture.IsActive(device, baseline.ManifestDigest!), "the previous model must stay active");
        Assert.Contains(
            File.ReadLines(platform.AgentLog(PlatformFixture.DeviceB)),
            line => line.Contains("layer-digest check failed", StringComparison.Ordinal) && line.Contains(deployment.ManifestDigest, StringComparison.Ordinal));

        var prediction = await platform.Bus(PlatformFixture.DeviceB).ScoreAsync("after-tamper", EventJson("after-tamper", BuiltInDatasets.SensorAnomaly.Load().GetFeatures(0)));
        Assert.Equal(baseline.ModelVersion, prediction.ModelVersion);

        // The operator's own check names the same failure and exits non-zero.
        var (exitCode, output) = await Edgectl.RunAsync("model", "verify", $"{candidate.ModelName}:{candidate.ModelVersion}", "--server", platform.Endpoints.HttpUrl, "--token", platform.AdminToken);
        Assert.Equal(1, exitCode);
        Assert.Contains("refused: layer-digest check failed", output, StringComparison.Ordinal);
        var (baselineExit, baselineOutput) = await Edgectl.RunAsync("model", "verify", $"{baseline.ModelName}:{baseline.ModelVersion}", "--server", platform.Endpoints.HttpUrl, "--token", platform.AdminToken);
        Assert.True(baselineExit == 0, baselineOutput);
    }

    [Fact]
    public async Task MalformedEvent_DeadLetteredWithReason_StreamContinues()
    {
        var run = await platform.EnsureBaselineAsync();
        var bus = platform.Bus(PlatformFixture.DeviceA);

        var missing = await bus.PublishExpectingDeadLetterAsync("""{"id":"m1","temperature_c":71.2}"""u8.ToArray());
        var mistyped = await bus.PublishExpectingDeadLetterAsync(
            """{"id":"m2","temperature_c":"hot","vibration_mm_s":2,"pressure_bar":5,"rpm":1450,"current_a":11}"""u8.ToArray());
        var notJson = await bus.PublishExpectingDeadLetterAsync("temperature=71"u8.ToArray());

        Assert.Contains("'vibration_mm_s' is missing", missing.Reason, StringComparison.Ordinal);
        Assert.Contains("'temperature_c' is a string", mistyped.Reason, StringComparison.Ordinal);
        Assert.Contains("not valid JSON", notJson.Reason, StringComparison.Ordinal);

        var prediction = await bus.ScoreAsync("after-bad-input", EventJson("after-bad-input", BuiltInDatasets.SensorAnomaly.Load().GetFeatures(1)));
        Assert.Equal(run.ModelVersion, prediction.ModelVersion);
        Assert.False(platform.Agents[PlatformFixture.DeviceA].HasExited);
    }

    [Fact]
    public async Task BadApiRequests_GetSpecificErrors_ServerKeepsRunning()
    {
        using var http = new HttpClient { BaseAddress = new Uri(platform.Endpoints.HttpUrl) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", platform.AdminToken);

        using var unknownDevice = await http.GetAsync("api/v1/devices/no-such-device");
        using var malformed = await http.PostAsync("api/v1/deployments", new StringContent("{\"model\": ", Encoding.UTF8, "application/json"));
        using var missingModel = await http.PostAsync("api/v1/deployments", new StringContent("{\"allDevices\": true}", Encoding.UTF8, "application/json"));

        Assert.Equal(System.Net.HttpStatusCode.NotFound, unknownDevice.StatusCode);
        Assert.Contains("device 'no-such-device' is not enrolled", await unknownDevice.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Contains("not valid JSON", await malformed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, missingModel.StatusCode);
        Assert.Contains("model: is required", await missingModel.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(platform.Server.HasExited);
    }

    private async Task<long> ScoredSoFarAsync(string deviceId) =>
        (await platform.Api.GetTelemetryAsync(deviceId, default)).SingleOrDefault()?.Latest.EventsScored ?? 0;

    /// <summary>An event carrying a dataset row's fields: numbers (a missing one, NaN, as null) and, for categorical columns, strings.</summary>
    internal static byte[] EventJson(string id, IReadOnlyDictionary<string, float> features, IReadOnlyDictionary<string, string?>? strings = null)
    {
        var fields = new Dictionary<string, object?> { [EventFields.CorrelationId] = id };
        foreach (var (name, value) in features)
        {
            fields[name] = float.IsNaN(value) ? null : value;
        }

        foreach (var (name, value) in strings ?? new Dictionary<string, string?>())
        {
            fields[name] = value;
        }

        return JsonSerializer.SerializeToUtf8Bytes(fields);
    }
}
