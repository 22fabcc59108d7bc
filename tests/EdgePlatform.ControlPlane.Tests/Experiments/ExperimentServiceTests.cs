using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Experiments;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Rollouts;
using EdgePlatform.ControlPlane.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NSubstitute;

namespace EdgePlatform.ControlPlane.Tests.Experiments;

public sealed class ExperimentServiceTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryStore _store = new();
    private readonly InMemoryExperimentStore _experimentStore = new();
    private readonly IExperimentAnalyzer _analyzer = Substitute.For<IExperimentAnalyzer>();
    private readonly TestTrustPublisher _trust;
    private readonly DesiredStateWriter _writer;
    private readonly RolloutService _rollouts;
    private readonly ExperimentService _experiments;
    private readonly ModelRegistry _registry;

    public ExperimentServiceTests()
    {
        _trust = new TestTrustPublisher(_time);
        _registry = new ModelRegistry(_store, new InMemoryArtifactStore(), _trust, _time, NullLogger<ModelRegistry>.Instance);
        _writer = new DesiredStateWriter(_store, Substitute.For<IDeviceLink>(), NullLogger<DesiredStateWriter>.Instance);
        var enrollment = Options.Create(new EnrollmentOptions { GroupKey = "0123456789abcdef", TelemetryIntervalSeconds = 15 });
        var claims = new ExperimentClaims(_experimentStore);
        _rollouts = new RolloutService(_registry, _store, new InMemoryRolloutStore(), _store, _writer, enrollment, Options.Create(new RolloutOptions()), _time, NullLogger<RolloutService>.Instance, [claims]);
        _experiments = new ExperimentService(_registry, _store, _experimentStore, _analyzer, _writer, _rollouts, claims, enrollment, _time, NullLogger<ExperimentService>.Instance);
        _analyzer.AnalyzeAsync(default!, default!, default, default).ReturnsForAnyArgs(call => Look(call.ArgAt<DateTimeOffset>(2), [], []));
    }

    public void Dispose()
    {
        _experiments.Dispose();
        _rollouts.Dispose();
        _writer.Dispose();
        _trust.Dispose();
    }

    [Theory]
    [InlineData("""{"name":"","unit":"device"}""", "name")]
    [InlineData("""{"name":"x","selector":"site=a","unit":"cohort"}""", "unit")]
    [InlineData("""{"name":"x","selector":"site in (a","unit":"device"}""", "selector")]
    [InlineData("""{"name":"x","selector":"site=a","unit":"device","arms":[{"name":"a","model":"m:1"}]}""", "arms")]
    [InlineData("""{"name":"x","selector":"site=a","unit":"device","arms":[{"name":"a","model":"m:1"},{"name":"a","model":"m:2"}]}""", "arms[1].name")]
    [InlineData("""{"name":"x","selector":"site=a","unit":"device","arms":[{"name":"a","model":"m:1"},{"name":"b","model":"m:2","weight":0}]}""", "arms[1].weight")]
    [InlineData("""{"name":"x","selector":"site=a","unit":"device","arms":[{"name":"a","model":"m:1"},{"name":"b","model":"m:9"}]}""", "arms[1].model")]
    [InlineData("""{"name":"x","selector":"site=a","unit":"event","keyField":"id","arms":[{"name":"a","model":"m:1"},{"name":"b","model":"m:2"},{"name":"c","model":"m:2"}]}""", "arms")]
    [InlineData("""{"name":"x","selector":"site=a","unit":"group","arms":[{"name":"a","model":"m:1"},{"name":"b","model":"m:2"}],"metric":{"kind":"accuracy"}}""", "groupTag")]
    [InlineData("""{"name":"x","selector":"site=a","unit":"device","mode":"shadow","arms":[{"name":"a","model":"m:1"},{"name":"b","model":"m:2"}],"metric":{"kind":"accuracy"}}""", "mode")]
    [InlineData("""{"name":"x","selector":"site=a","unit":"event","mode":"split","arms":[{"name":"a","model":"m:1"},{"name":"b","model":"m:2"}],"metric":{"kind":"accuracy"}}""", "keyField")]
    [InlineData("""{"name":"x","selector":"site=a","unit":"device","arms":[{"name":"a","model":"m:1"},{"name":"b","model":"m:2"}],"metric":{"kind":"mae"}}""", "metric.kind")]
    [InlineData("""{"name":"x","selector":"site=a","unit":"device","arms":[{"name":"a","model":"m:1"},{"name":"b","model":"m:2"}],"metric":{"kind":"accuracy","outcome":"true-positive"}}""", "metric.outcome")]
    [InlineData("""{"name":"x","selector":"site=a","unit":"device","arms":[{"name":"a","model":"m:1"},{"name":"b","model":"m:2"}],"metric":{"kind":"accuracy"},"endsAt":"2020-01-01T00:00:00Z"}""", "endsAt")]
    [InlineData("""{"name":"x","selector":"site=a","unit":"device","arms":[{"name":"a","model":"m:1"},{"name":"b","model":"m:2"}],"metric":{"kind":"accuracy"},"alpha":0.6}""", "alpha")]
    [InlineData("""{"name":"x","selector":"site=a","unit":"device","arms":[{"name":"a","model":"m:1"},{"name":"b","model":"m:2"}],"metric":{"kind":"accuracy"},"sequentialTuning":0}""", "sequentialTuning")]
    public async Task CreateAsync_BadField_RefusedNamingIt(string json, string field)
    {
        await PublishAsync("m", "1");
        await PublishAsync("m", "2");
        var request = System.Text.Json.JsonSerializer.Deserialize(json, ContractsJsonContext.Default.CreateExperimentRequest);

        var error = await Assert.ThrowsAsync<RequestValidationException>(() => _experiments.CreateAsync(request, "ds", CancellationToken.None));

        Assert.Equal(field, error.Field);
    }

    [Fact]
    public async Task CreateAsync_GroupUnit_MembersShareAnArmAndUntaggedDevicesStayOut()
    {
        await PublishAsync("m", "1");
        await PublishAsync("m", "2");
        for (var i = 0; i < 40; i++)
        {
            await AddDeviceAsync($"dev-{i:00}", new() { ["fleet"] = "f", ["site"] = $"s{i % 8}" });
        }

        await AddDeviceAsync("dev-untagged", new() { ["fleet"] = "f" });

        var experiment = await _experiments.CreateAsync(Request(ExperimentUnits.Group, groupTag: "site"), "ds", CancellationToken.None);

        var entries = await _experiments.DevicesAsync(experiment.Id, CancellationToken.None);
        Assert.Equal(40, entries.Count);
        Assert.All(entries.GroupBy(e => e.Unit), g => Assert.Single(g.Select(e => e.Arm).Distinct()));
        Assert.Null((await _store.GetDeviceAsync("dev-untagged", CancellationToken.None))!.Desired?.Deployment);
        var device = (await _store.GetDeviceAsync("dev-00", CancellationToken.None))!;
        var arm = entries.Single(e => e.DeviceId == "dev-00").Arm;
        Assert.Equal(new ExperimentPlacement(experiment.Id, arm), device.Desired!.Deployment!.Experiment);
        Assert.Equal(experiment.Arms.Single(a => a.Name == arm).Model, device.Desired.Deployment.Model);
    }

    [Fact]
    public async Task CreateAsync_EventUnitSplit_EveryDeviceGetsControlWithCandidateAtItsShare()
    {
        await PublishAsync("m", "1");
        await PublishAsync("m", "2");
        await AddDeviceAsync("dev-1", new() { ["fleet"] = "f" });

        var experiment = await _experiments.CreateAsync(Request(ExperimentUnits.Event, keyField: "order", weights: [3, 1]), "ds", CancellationToken.None);

        var deployment = (await _store.GetDeviceAsync("dev-1", CancellationToken.None))!.Desired!.Deployment!;
        Assert.Equal(experiment.Arms[0].Model, deployment.Model);
        var candidate = deployment.Experiment!.Candidate!;
        Assert.Equal((experiment.Arms[1].Name, ExperimentModes.Split, "order", experiment.Salt), (candidate.Arm, candidate.Mode, candidate.KeyField, candidate.Salt));
        Assert.Equal(25, candidate.Percent, 9);
    }

    [Fact]
    public async Task StopAsync_DeviceTakenByRolloutMeanwhile_RestoresOnlyDevicesStillOnTheExperiment()
    {
        var v1 = await PublishAsync("m", "1");
        await PublishAsync("m", "2");
        await AddDeviceAsync("dev-1", new() { ["fleet"] = "f" }, v1);
        await AddDeviceAsync("dev-2", new() { ["fleet"] = "f" }, v1);
        var experiment = await _experiments.CreateAsync(Request(ExperimentUnits.Device), "ds", CancellationToken.None);
        var other = (await _registry.ResolveAsync("m:2", CancellationToken.None)).ToReference();
        await _writer.WriteAsync("dev-2", new DeploymentSpec("manual", other), TelemetrySettings.Default, CancellationToken.None);

        var stopped = await _experiments.StopAsync(experiment.Id, "ds", CancellationToken.None);

        Assert.Equal(ExperimentStates.Stopped, stopped.State);
        Assert.Equal(v1, (await _store.GetDeviceAsync("dev-1", CancellationToken.None))!.Desired!.Deployment!.Model);
        Assert.Equal("manual", (await _store.GetDeviceAsync("dev-2", CancellationToken.None))!.Desired!.Deployment!.DeploymentId);
    }

    [Fact]
    public async Task TickAsync_GuardrailBreached_StopsNamingGuardrailArmValueAndThreshold()
    {
        await PublishAsync("m", "1");
        await PublishAsync("m", "2");
        await AddDeviceAsync("dev-1", new() { ["fleet"] = "f" });
        var experiment = await _experiments.CreateAsync(Request(ExperimentUnits.Device), "ds", CancellationToken.None);
        _analyzer.AnalyzeAsync(default!, default!, default, default).ReturnsForAnyArgs(call =>
            Look(call.ArgAt<DateTimeOffset>(2), [], [new GuardrailReport("error-rate", "b", 0.2, 0.05, true)]));

        await _experiments.TickAsync(CancellationToken.None);

        var stopped = await _experiments.GetAsync(experiment.Id, CancellationToken.None);
        Assert.Equal(ExperimentStates.Stopped, stopped.State);
        Assert.Equal("guardrail error-rate breached by arm b: 0.2 above the threshold 0.05", stopped.Reason);
        Assert.Null((await _store.GetDeviceAsync("dev-1", CancellationToken.None))!.Desired!.Deployment);
    }

    [Fact]
    public async Task Priority_ExperimentAboveRollout_TakesDevicesAndRolloutGetsThemBackWhenItStops()
    {
        await PublishAsync("m", "1");
        await PublishAsync("m", "2");
        await AddDeviceAsync("dev-1", new() { ["fleet"] = "f" });
        var rollout = await _rollouts.CreateAsync(new CreateRolloutRequest("m:1", "fleet=f", 1, [new RolloutStage(100, null, 0)], null), "ops", CancellationToken.None);

        var experiment = await _experiments.CreateAsync(Request(ExperimentUnits.Device) with { Priority = 5 }, "ds", CancellationToken.None);
        var during = (await _rollouts.GetDetailAsync(rollout.Id, null, null, null, CancellationToken.None)).Devices.Single();
        var onExperiment = (await _store.GetDeviceAsync("dev-1", CancellationToken.None))!.Desired!.Deployment!.DeploymentId;
        await _experiments.StopAsync(experiment.Id, "ds", CancellationToken.None);
        var after = (await _rollouts.GetDetailAsync(rollout.Id, null, null, null, CancellationToken.None)).Devices.Single();

        Assert.Equal(RolloutDeviceStates.Superseded, during.State);
        Assert.Equal($"experiment {experiment.Id} has priority", during.Reason);
        Assert.Equal(experiment.Id, onExperiment);
        Assert.NotEqual(RolloutDeviceStates.Superseded, after.State);
        Assert.Equal(rollout.Id, (await _store.GetDeviceAsync("dev-1", CancellationToken.None))!.Desired!.Deployment!.DeploymentId);
    }

    [Fact]
    public async Task Priority_RolloutAboveExperiment_ExperimentLeavesItsDevicesAlone()
    {
        await PublishAsync("m", "1");
        await PublishAsync("m", "2");
        await AddDeviceAsync("dev-1", new() { ["fleet"] = "f" });
        var rollout = await _rollouts.CreateAsync(new CreateRolloutRequest("m:1", "fleet=f", 9, [new RolloutStage(100, null, 0)], null), "ops", CancellationToken.None);

        var experiment = await _experiments.CreateAsync(Request(ExperimentUnits.Device), "ds", CancellationToken.None);

        Assert.Empty(await _experiments.DevicesAsync(experiment.Id, CancellationToken.None));
        Assert.Equal(rollout.Id, (await _store.GetDeviceAsync("dev-1", CancellationToken.None))!.Desired!.Deployment!.DeploymentId);
    }

    [Fact]
    public async Task PromoteAsync_BestSignificantArm_StopsAndStartsRolloutOfItsModelAtTheExperimentsPriority()
    {
        await PublishAsync("m", "1");
        await PublishAsync("m", "2");
        await PublishAsync("m", "3");
        var experiment = await _experiments.CreateAsync(Request(ExperimentUnits.Device, models: ["m:1", "m:2", "m:3"]) with { Priority = 4 }, "ds", CancellationToken.None);
        _analyzer.AnalyzeAsync(default!, default!, default, default).ReturnsForAnyArgs(call =>
            Look(call.ArgAt<DateTimeOffset>(2), [Comparison("b", 0.02, 0.01, 0.03, true), Comparison("c", 0.05, 0.02, 0.08, true)], []));

        var rollout = await _experiments.PromoteAsync(experiment.Id, null, "ds", CancellationToken.None);

        Assert.Equal("3", rollout.Model.Version);
        Assert.Equal(4, rollout.Priority);
        Assert.Equal([10.0, 50.0, 100.0], rollout.Stages.Select(s => s.Percent!.Value));
        var promoted = await _experiments.GetAsync(experiment.Id, CancellationToken.None);
        Assert.Equal((ExperimentStates.Promoted, rollout.Id), (promoted.State, promoted.PromotedRollout));
    }

    [Fact]
    public async Task PromoteAsync_NoArmSignificantlyBetter_RefusesNamingTheInterval()
    {
        await PublishAsync("m", "1");
        await PublishAsync("m", "2");
        var experiment = await _experiments.CreateAsync(Request(ExperimentUnits.Device), "ds", CancellationToken.None);
        _analyzer.AnalyzeAsync(default!, default!, default, default).ReturnsForAnyArgs(call =>
            Look(call.ArgAt<DateTimeOffset>(2), [Comparison("b", 0.01, -0.02, 0.04, false)], []));

        var error = await Assert.ThrowsAsync<ConflictException>(() => _experiments.PromoteAsync(experiment.Id, null, "ds", CancellationToken.None));

        Assert.Contains("b: +0.01 [-0.02, 0.04]", error.Message, StringComparison.Ordinal);
        Assert.Equal(ExperimentStates.Running, (await _experiments.GetAsync(experiment.Id, CancellationToken.None)).State);
    }

    private static CreateExperimentRequest Request(string unit, string? groupTag = null, string? keyField = null, double[]? weights = null, string[]? models = null)
    {
        models ??= ["m:1", "m:2"];
        var names = new[] { "a", "b", "c" };
        return new CreateExperimentRequest(
            "test",
            [.. models.Select((m, i) => new ExperimentArmRequest(names[i], m, weights?[i]))],
            "fleet=f",
            unit,
            GroupTag: groupTag,
            KeyField: keyField,
            Metric: new ExperimentMetric(ExperimentMetricKinds.Accuracy));
    }

    private static MetricComparison Comparison(string arm, double difference, double lower, double upper, bool significant) =>
        new("accuracy", arm, "a", "two-proportion-z", true, 0.95, "none", 100, 100, 0.8, 0.8 + difference, difference, lower, upper, difference / 0.8, lower / 0.8, upper / 0.8, null, significant, false);

    private static ExperimentLook Look(DateTimeOffset at, IReadOnlyList<MetricComparison> comparisons, IReadOnlyList<GuardrailReport> guardrails) =>
        new(at, [], new SampleRatioReport([], [], 0, 1, 1, false), comparisons, guardrails, null);

    private async Task<ModelReference> PublishAsync(string name, string version)
    {
        var card = new ModelCard(
            name,
            version,
            ModelTasks.BinaryClassification,
            [new ModelInput("temperature", TensorElementTypes.Float32, [-1, 1], "temperature")],
            [new ModelOutput("PredictedLabel.output", TensorElementTypes.Bool, [-1, 1], PredictionFields.Label)],
            new Dictionary<string, double>(),
            new ModelLineage("run-1", name, "sha256:" + new string('d', 64), 100, "fasttree", new Dictionary<string, string>(), "test"),
            [new FeatureBaseline("temperature", 20, 2, 10, 30)],
            _time.GetUtcNow());
        return (await _registry.PublishAsync(new TrainedModel(card, [1, 2, .. System.Text.Encoding.UTF8.GetBytes(name + version)], null), CancellationToken.None)).ToReference();
    }

    private async Task AddDeviceAsync(string id, Dictionary<string, string> tags, ModelReference? previous = null)
    {
        _store.AddDevice(id, previous is null ? null : new DesiredState(1, new DeploymentSpec("dep-old", previous), TelemetrySettings.Default));
        var device = await _store.GetDeviceAsync(id, CancellationToken.None);
        await _store.UpsertDeviceAsync(device! with { Tags = tags }, CancellationToken.None);
    }
}
