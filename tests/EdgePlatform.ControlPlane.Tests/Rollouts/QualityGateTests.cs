using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Rollouts;
using EdgePlatform.ControlPlane.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NSubstitute;

namespace EdgePlatform.ControlPlane.Tests.Rollouts;

/// <summary>The rollout quality gate over labelled feedback in quality telemetry, driven through ticks of the rollout service.</summary>
public sealed class QualityGateTests : IDisposable
{
    private static readonly string DigestV1 = "sha256:" + new string('1', 64);
    private static readonly string DigestV2 = "sha256:" + new string('2', 64);
    private static readonly TimeSpan Bake = TimeSpan.FromMinutes(10);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryStore _store = new();
    private readonly InMemoryRolloutStore _rolloutStore = new();
    private readonly IDeviceLink _link = Substitute.For<IDeviceLink>();
    private readonly DesiredStateWriter _writer;
    private readonly RolloutService _rollouts;
    private readonly ModelReference _v1;
    private readonly ModelReference _v2;

    public QualityGateTests()
    {
        _link.PublishDesiredAsync(Arg.Any<string>(), Arg.Any<DesiredState>(), Arg.Any<CancellationToken>()).Returns(Task.CompletedTask);
        var registry = new ModelRegistry(_store, new InMemoryArtifactStore(), Substitute.For<ITrustPublisher>(), _time, NullLogger<ModelRegistry>.Instance);
        _writer = new DesiredStateWriter(_store, _link, NullLogger<DesiredStateWriter>.Instance);
        _rollouts = new RolloutService(
            registry, _store, _rolloutStore, _store, _writer,
            Options.Create(new EnrollmentOptions { GroupKey = "0123456789abcdef", TelemetryIntervalSeconds = 15 }),
            Options.Create(new RolloutOptions()),
            _time,
            NullLogger<RolloutService>.Instance);
        var v1 = Model("sensor", "1", DigestV1);
        var v2 = Model("sensor", "2", DigestV2);
        _store.AddModel(v1);
        _store.AddModel(v2);
        _v1 = v1.ToReference();
        _v2 = v2.ToReference();
    }

    public void Dispose()
    {
        _rollouts.Dispose();
        _writer.Dispose();
    }

    [Fact]
    public async Task TickAsync_NewVersionClearlyLessAccurate_RollsBackMidBakeNamingTheEvidence()
    {
        await AddFleetAsync(200);
        var rollout = await CreateAsync(Counts(20, 100, 200), Accuracy(0.02));
        await DevicesApplyAsync();
        _time.Advance(TimeSpan.FromMinutes(2));
        AddQuality(_time.Now.AddMinutes(-1), labelled: 200, spread: 0.01, newValue: 0.80, oldValue: 0.90);

        await _rollouts.TickAsync(CancellationToken.None);

        var done = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.True(_time.Now < done.StageStartedAt + Bake, "judged before the bake ended");
        Assert.Equal(RolloutStates.RolledBack, done.State);
        Assert.Matches(@"^gate failed in stage 1: quality gate: accuracy 0\.(79|8)\d* on the new version against 0\.(89|9)\d* on the previous", done.Reason);
        Assert.Contains("95% confidence sequence [", done.Reason, StringComparison.Ordinal);
        Assert.Contains("below the margin -0.02", done.Reason, StringComparison.Ordinal);
        Assert.All(
            (await _rolloutStore.ListRolloutDevicesAsync(rollout.Id, CancellationToken.None)).Where(d => d.Stage == 0),
            d => Assert.Equal(RolloutDeviceStates.RolledBack, d.State));
    }

    [Fact]
    public async Task TickAsync_TooLittleFeedbackToTell_HoldsTheStageAfterTheBakeAndSaysWhy()
    {
        await AddFleetAsync(200);
        var rollout = await CreateAsync(Counts(20, 100, 200), Accuracy(0.02));
        await DevicesApplyAsync();
        _time.Advance(TimeSpan.FromMinutes(1));
        AddQuality(_time.Now, labelled: 20, spread: 0.05, newValue: 0.90, oldValue: 0.90);

        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);

        var held = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.Equal(RolloutStates.Running, held.State);
        Assert.Equal(0, held.CurrentStage);
        Assert.Contains("stage 1 holds: the quality gate has not yet shown the new version within the margin: accuracy", held.Reason, StringComparison.Ordinal);
        Assert.Contains("still reaches below -0.02", held.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TickAsync_NoLabelledFeedbackOnTheNewVersion_HoldsAndSaysHowManyDevicesItNeeds()
    {
        await AddFleetAsync(200);
        var rollout = await CreateAsync(Counts(20, 100, 200), Accuracy(0.02));
        await DevicesApplyAsync();

        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);

        var held = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.Equal(0, held.CurrentStage);
        Assert.Contains("needs labelled feedback from at least 2 devices on each version (0 on the new version, 0 on the previous", held.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TickAsync_EquallyAccurateWithEnoughFeedback_OpensTheNextStageAtTheEndOfTheBakeNotBefore()
    {
        await AddFleetAsync(200);
        var rollout = await CreateAsync(Counts(20, 100, 200), Accuracy(0.02));
        await DevicesApplyAsync();
        _time.Advance(TimeSpan.FromMinutes(1));
        AddQuality(_time.Now, labelled: 2000, spread: 0.005, newValue: 0.90, oldValue: 0.90);

        await _rollouts.TickAsync(CancellationToken.None);
        Assert.Equal(0, (await _rollouts.GetAsync(rollout.Id, CancellationToken.None)).CurrentStage);

        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);

        var next = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.Equal(RolloutStates.Running, next.State);
        Assert.Equal(1, next.CurrentStage);
        Assert.Null(next.Reason);
    }

    [Fact]
    public async Task TickAsync_MaeHigherBeyondTheMargin_RollsBack()
    {
        await AddFleetAsync(200);
        var rollout = await CreateAsync(Counts(20, 100, 200), new RolloutGates(QualityMetric: QualityGateMetrics.Mae, QualityMargin: 0.1));
        await DevicesApplyAsync();
        _time.Advance(TimeSpan.FromMinutes(1));
        AddQuality(_time.Now, labelled: 200, spread: 0.05, newValue: 1.5, oldValue: 1.0);
        _time.Advance(TimeSpan.FromSeconds(5));

        await _rollouts.TickAsync(CancellationToken.None);

        var done = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.Equal(RolloutStates.RolledBack, done.State);
        Assert.Matches(@"quality gate: mae 1\.[45]\d* on the new version against (0\.9\d*|1|1\.0\d*) on the previous", done.Reason);
        Assert.Contains("above the margin 0.1", done.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TickAsync_MaeLowerThanBefore_PassesAsNonInferior()
    {
        await AddFleetAsync(200);
        var rollout = await CreateAsync(Counts(20, 100, 200), new RolloutGates(QualityMetric: QualityGateMetrics.Mae, QualityMargin: 0.1));
        await DevicesApplyAsync();
        _time.Advance(TimeSpan.FromMinutes(1));
        AddQuality(_time.Now, labelled: 200, spread: 0.05, newValue: 0.8, oldValue: 1.0);

        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);

        Assert.Equal(1, (await _rollouts.GetAsync(rollout.Id, CancellationToken.None)).CurrentStage);
    }

    [Fact]
    public async Task TickAsync_FinalStageWithNoDeviceLeftOnThePreviousVersion_ComparesTheDevicesWithThemselvesBeforeTheStage()
    {
        await AddFleetAsync(50);
        var created = _time.Now;

        // The fleet on the previous version in the minutes before the rollout.
        AddQuality(created.AddMinutes(-5), labelled: 500, spread: 0.005, newValue: 0.90, oldValue: 0.90, everyDeviceOn: _v1);
        var rollout = await CreateAsync(Stages(100), Accuracy(0.02));
        await DevicesApplyAsync();
        _time.Advance(TimeSpan.FromMinutes(1));
        AddQuality(_time.Now, labelled: 500, spread: 0.005, newValue: 0.80, oldValue: 0.90);
        _time.Advance(TimeSpan.FromMinutes(5));

        await _rollouts.TickAsync(CancellationToken.None);

        var done = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.Equal(RolloutStates.RolledBack, done.State);
        Assert.Contains("the same devices before the stage", done.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("precision", 0.02, null, "gates.qualityMetric")]
    [InlineData("accuracy", null, null, "gates.qualityMargin")]
    [InlineData("accuracy", -0.1, null, "gates.qualityMargin")]
    [InlineData("accuracy", 1.5, null, "gates.qualityMargin")]
    [InlineData("accuracy", 0.02, 0.7, "gates.qualityAlpha")]
    [InlineData("mae", 0.1, 0.0, "gates.qualityAlpha")]
    [InlineData(null, 0.02, null, "gates.qualityMetric")]
    public async Task CreateAsync_BadQualityGate_NamesTheField(string? metric, double? margin, double? alpha, string field)
    {
        await AddFleetAsync(3);
        var error = await Assert.ThrowsAsync<RequestValidationException>(() =>
            _rollouts.CreateAsync(new CreateRolloutRequest("sensor:2", "site=berlin", 0, Stages(100), new RolloutGates(QualityMetric: metric, QualityMargin: margin, QualityAlpha: alpha)), "ops", CancellationToken.None));
        Assert.Equal(field, error.Field);
    }

    [Fact]
    public async Task CreateAsync_QualityGateWithoutAlpha_StoresTheDefault()
    {
        await AddFleetAsync(3);
        var rollout = await CreateAsync(Stages(100), Accuracy(0.02));
        Assert.Equal(QualityGateMetrics.DefaultAlpha, rollout.Gates.QualityAlpha);
    }

    private static RolloutGates Accuracy(double margin) => new(QualityMetric: QualityGateMetrics.Accuracy, QualityMargin: margin);

    private static List<RolloutStage> Stages(params double[] percents) =>
        [.. percents.Select(p => new RolloutStage(p, null, (int)Bake.TotalSeconds))];

    /// <summary>Stages by device count, so a stage's size does not depend on where the rollout's hash places devices.</summary>
    private static List<RolloutStage> Counts(params int[] counts) =>
        [.. counts.Select(c => new RolloutStage(null, c, (int)Bake.TotalSeconds))];

    private async Task<RolloutInfo> CreateAsync(List<RolloutStage> stages, RolloutGates gates)
    {
        var rollout = await _rollouts.CreateAsync(new CreateRolloutRequest("sensor:2", "site=berlin", 0, stages, gates), "ops", CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(1));
        return rollout;
    }

    private async Task AddFleetAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var id = $"dev-{i:0000}";
            _store.AddDevice(id, new DesiredState(1, new DeploymentSpec("dep-old", _v1), TelemetrySettings.Default));
            var device = await _store.GetDeviceAsync(id, CancellationToken.None);
            await _store.UpsertDeviceAsync(device! with { Tags = new Dictionary<string, string> { ["site"] = "berlin" } }, CancellationToken.None);
        }
    }

    /// <summary>Each device reports its newest desired model active, as an agent would.</summary>
    private async Task DevicesApplyAsync()
    {
        foreach (var device in await _store.ListDevicesAsync(CancellationToken.None))
        {
            var model = device.Desired!.Deployment!.Model;
            var slots = new[] { new ModelSlotReport(ModelSlots.Primary, model.Name, model.Version, model.ManifestDigest, ModelSlotStates.Active, _time.Now) };
            await _store.SaveReportedAsync(device.Id, new ReportedState("test", device.Desired.Version, slots, null, _time.Now), _time.Now, CancellationToken.None);
        }
    }

    /// <summary>
    /// One quality report from every device for the model it is told to run (or
    /// <paramref name="everyDeviceOn"/>): <paramref name="labelled"/> labelled predictions whose
    /// accuracy (or mean absolute error) is the version's value, alternate devices
    /// <paramref name="spread"/> above and below it.
    /// </summary>
    private void AddQuality(DateTimeOffset at, long labelled, double spread, double newValue, double oldValue, ModelReference? everyDeviceOn = null)
    {
        // Alternating within each version, so each side's mean is its value whichever devices a stage holds.
        var (onNew, onOld) = (0, 0);
        foreach (var device in _store.ListDevicesAsync(CancellationToken.None).Result.OrderBy(d => d.Id, StringComparer.Ordinal))
        {
            var model = everyDeviceOn ?? device.Desired!.Deployment!.Model;
            var isNew = model.ManifestDigest == _v2.ManifestDigest;
            var side = isNew ? onNew++ : onOld++;
            var value = (isNew ? newValue : oldValue) + (side % 2 == 0 ? spread : -spread);
            var correct = (long)Math.Round(Math.Clamp(value, 0, 1) * labelled);
            var wrong = labelled - correct;
            _store.AddQuality(device.Id, new QualityRecord(
                0, at, model.Name, model.Version, model.ManifestDigest, Arms.Control, labelled, 0.5, [], [], [], [], [], [], [], [], [], [], null,
                labelled, correct / 2, wrong / 2, correct - (correct / 2), wrong - (wrong / 2), 0, value * labelled, value * value * labelled));
        }
    }

    private static ModelRecord Model(string name, string version, string digest) =>
        new("models/" + name, name, version, digest, 100, "sha256:" + new string('f', 64), 10, "c2ln", new Dictionary<string, double>(), DateTimeOffset.UnixEpoch);
}
