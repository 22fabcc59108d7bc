using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Leases;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Rollouts;
using EdgePlatform.ControlPlane.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NSubstitute;

namespace EdgePlatform.ControlPlane.Tests.Rollouts;

public sealed class RolloutServiceTests : IDisposable
{
    private static readonly string DigestV1 = "sha256:" + new string('1', 64);
    private static readonly string DigestV2 = "sha256:" + new string('2', 64);
    private static readonly TimeSpan Bake = TimeSpan.FromMinutes(10);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryStore _store = new();
    private readonly InMemoryLeaseStore _leases;
    private readonly InMemoryRolloutStore _rolloutStore;
    private readonly IDeviceLink _link = Substitute.For<IDeviceLink>();
    private readonly List<(string DeviceId, DesiredState Desired)> _published = [];
    private readonly DesiredStateWriter _writer;
    private readonly RolloutService _rollouts;
    private readonly ModelReference _v1;

    public RolloutServiceTests()
    {
        _leases = new InMemoryLeaseStore(_time);
        _rolloutStore = new InMemoryRolloutStore(_leases);
        _link.PublishDesiredAsync(Arg.Any<string>(), Arg.Any<DesiredState>(), Arg.Any<CancellationToken>())
            .Returns(call =>
            {
                // Batched writes publish concurrently, as the broker link allows.
                lock (_published)
                {
                    _published.Add((call.ArgAt<string>(0), call.ArgAt<DesiredState>(1)));
                }

                return Task.CompletedTask;
            });
        var registry = new ModelRegistry(_store, new InMemoryArtifactStore(), Substitute.For<ITrustPublisher>(), _time, NullLogger<ModelRegistry>.Instance);
        _writer = new DesiredStateWriter(_store, _link, NullLogger<DesiredStateWriter>.Instance);
        _rollouts = new RolloutService(
            registry,
            _store,
            _rolloutStore,
            _store,
            _writer,
            Options.Create(new EnrollmentOptions { GroupKey = "0123456789abcdef", TelemetryIntervalSeconds = 15 }),
            Options.Create(new RolloutOptions()),
            _time,
            NullLogger<RolloutService>.Instance);
        var v1 = Model("sensor", "1", DigestV1);
        _store.AddModel(v1);
        _store.AddModel(Model("sensor", "2", DigestV2));
        _v1 = v1.ToReference();
    }

    public void Dispose()
    {
        _rollouts.Dispose();
        _writer.Dispose();
    }

    [Fact]
    public async Task TickAsync_GoodVersionInThreeStages_CompletesWithEveryDeviceActiveAndEachPublishedOnce()
    {
        await AddFleetAsync(1000, "site=berlin");
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(10, 50, 100), new RolloutGates(MaxFailurePercent: 5, MaxErrorRate: 0.01));

        var reachedPerStage = new List<int>();
        for (var stage = 0; stage < 3; stage++)
        {
            reachedPerStage.Add(ReceivedV2().Count);
            await DevicesApplyAsync();
            SetTelemetry(errors: 0);
            _time.Advance(Bake);
            await _rollouts.TickAsync(CancellationToken.None);
        }

        var done = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.Equal(RolloutStates.Completed, done.State);
        Assert.Equal(1000, (await DevicesAsync(done)).Count(d => d.State == RolloutDeviceStates.Active));
        Assert.InRange(reachedPerStage[0], 60, 140);
        Assert.InRange(reachedPerStage[1], 420, 580);
        Assert.Equal(1000, reachedPerStage[2]);
        Assert.All(_published.GroupBy(p => p.DeviceId), g => Assert.Single(g));
    }

    [Fact]
    public async Task TickAsync_StaleHolderAfterAnotherReplicaTookTheLease_WritesNothingAndTheSuccessorDoes()
    {
        await AddFleetAsync(100, "site=berlin");
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(10, 100), new RolloutGates(MaxFailurePercent: 5));
        var stale = (await _leases.TryAcquireAsync(LeaseNames.Rollouts, "replica-a", TimeSpan.FromSeconds(10), CancellationToken.None))!;
        _time.Advance(TimeSpan.FromSeconds(11));
        var successor = (await _leases.TryAcquireAsync(LeaseNames.Rollouts, "replica-b", TimeSpan.FromSeconds(10), CancellationToken.None))!;
        await DevicesApplyAsync();
        var saves = _rolloutStore.DevicesWrittenPerSave.Count;

        await _rollouts.TickAsync(stale.Fence, CancellationToken.None);

        Assert.Equal(saves, _rolloutStore.DevicesWrittenPerSave.Count);
        Assert.False((await _rollouts.GetAsync(rollout.Id, CancellationToken.None)).Counts!.ContainsKey(RolloutDeviceStates.Active));

        await _rollouts.TickAsync(successor.Fence, CancellationToken.None);

        Assert.True((await _rollouts.GetAsync(rollout.Id, CancellationToken.None)).Counts!.GetValueOrDefault(RolloutDeviceStates.Active) > 0);
    }

    [Fact]
    public async Task TickAsync_ErrorRateGateFailsInStageOne_RollsBackAndNoLaterStageDeviceEverReceivesIt()
    {
        await AddFleetAsync(300, "site=berlin", previous: _v1);
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(10, 50, 100), new RolloutGates(MaxErrorRate: 0.05));
        var stageOne = ReceivedV2();
        await DevicesApplyAsync();
        SetTelemetry(errors: 40);

        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);
        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);

        var done = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.Equal(RolloutStates.RolledBack, done.State);
        Assert.Contains("gate failed in stage 1: error rate", done.Reason, StringComparison.Ordinal);
        Assert.NotEmpty(stageOne);
        Assert.Equal(stageOne, ReceivedV2());
        Assert.All((await DevicesAsync(done)).Where(d => !stageOne.Contains(d.DeviceId)), d => Assert.NotEqual(0, d.Stage));
        foreach (var deviceId in stageOne)
        {
            var device = await _store.GetDeviceAsync(deviceId, CancellationToken.None);
            Assert.Equal(DigestV1, device!.Desired!.Deployment!.Model.ManifestDigest);
            Assert.Equal(DigestV1, _published.Last(p => p.DeviceId == deviceId).Desired.Deployment!.Model.ManifestDigest);
        }
    }

    [Fact]
    public async Task TickAsync_FailuresPastAbortThreshold_RollsBackBeforeTheBakeEnds()
    {
        await AddFleetAsync(200, "site=berlin", previous: _v1);
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(20, 100), new RolloutGates(MaxFailurePercent: 10, MinDevices: 5));
        var stageOne = ReceivedV2();

        await DevicesApplyAsync(fail: _ => true);
        _time.Advance(TimeSpan.FromMinutes(1));
        await _rollouts.TickAsync(CancellationToken.None);

        var done = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.Equal(RolloutStates.RolledBack, done.State);
        Assert.Contains("devices failed", done.Reason, StringComparison.Ordinal);
        Assert.Equal(stageOne, ReceivedV2());
        Assert.All(stageOne, id => Assert.Equal(DigestV1, _published.Last(p => p.DeviceId == id).Desired.Deployment!.Model.ManifestDigest));
    }

    [Fact]
    public async Task TickAsync_FewerFailuresThanMinDevices_KeepsRunning()
    {
        await AddFleetAsync(100, "site=berlin");
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(10, 100), new RolloutGates(MaxFailurePercent: 10, MinDevices: 50));

        await DevicesApplyAsync(fail: _ => true);
        await _rollouts.TickAsync(CancellationToken.None);

        Assert.Equal(RolloutStates.Running, (await _rollouts.GetAsync(rollout.Id, CancellationToken.None)).State);
    }

    [Fact]
    public async Task TickAsync_TooFewEventsScored_HoldsTheStageAndSaysWhy()
    {
        await AddFleetAsync(100, "site=berlin");
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(10, 100), new RolloutGates(MinEventsScored: 1_000_000));
        var stageOne = ReceivedV2();
        await DevicesApplyAsync();
        SetTelemetry(errors: 0);

        _time.Advance(Bake * 3);
        await _rollouts.TickAsync(CancellationToken.None);

        var held = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.Equal(0, held.CurrentStage);
        Assert.Contains("holds", held.Reason, StringComparison.Ordinal);
        Assert.Equal(stageOne, ReceivedV2());
    }

    [Fact]
    public async Task TickAsync_P99MuchSlowerThanPreviousVersion_RollsBack()
    {
        await AddFleetAsync(100, "site=berlin", previous: _v1);
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(30, 100), new RolloutGates(MaxP99Regression: 1.5));
        await DevicesApplyAsync();
        SetTelemetry(errors: 0, p99New: 40, p99Old: 10);

        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);

        var done = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.Equal(RolloutStates.RolledBack, done.State);
        Assert.Contains("p99 latency", done.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PauseAsync_Running_OpensNoStageUntilResumedAndThenBakesAgain()
    {
        await AddFleetAsync(100, "site=berlin");
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(10, 100), new RolloutGates());
        var stageOne = ReceivedV2();
        await DevicesApplyAsync();

        var paused = await _rollouts.PauseAsync(rollout.Id, "ops", CancellationToken.None);
        _time.Advance(Bake * 2);
        await _rollouts.TickAsync(CancellationToken.None);
        Assert.Equal(RolloutStates.Paused, paused.State);
        Assert.Equal(stageOne, ReceivedV2());

        await _rollouts.ResumeAsync(rollout.Id, "ops", CancellationToken.None);
        await _rollouts.TickAsync(CancellationToken.None);
        Assert.Equal(stageOne, ReceivedV2());

        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);
        Assert.Equal(100, ReceivedV2().Count);
    }

    [Fact]
    public async Task AbortAsync_Running_StopsWithoutTouchingDevicesAndRefusesResume()
    {
        await AddFleetAsync(100, "site=berlin", previous: _v1);
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(10, 100), new RolloutGates());
        var publishedBefore = _published.Count;

        var aborted = await _rollouts.AbortAsync(rollout.Id, "ops", CancellationToken.None);
        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);

        Assert.Equal(RolloutStates.Aborted, aborted.State);
        Assert.Equal(publishedBefore, _published.Count);
        var conflict = await Assert.ThrowsAsync<ConflictException>(() => _rollouts.ResumeAsync(rollout.Id, "ops", CancellationToken.None));
        Assert.Contains("is aborted", conflict.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RollbackAsync_Completed_RestoresEveryDevicesPreviousModel()
    {
        await AddFleetAsync(20, "site=berlin", previous: _v1);
        _store.AddDevice("fresh");
        await TagAsync("fresh", "site=berlin");
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(100), new RolloutGates());
        await DevicesApplyAsync();
        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);
        Assert.Equal(RolloutStates.Completed, (await _rollouts.GetAsync(rollout.Id, CancellationToken.None)).State);

        var rolledBack = await _rollouts.RollbackAsync(rollout.Id, "ops", CancellationToken.None);

        Assert.Equal(RolloutStates.RolledBack, rolledBack.State);
        Assert.All(await DevicesAsync(rolledBack), d => Assert.Equal(RolloutDeviceStates.RolledBack, d.State));
        var fleet = await _store.ListDevicesAsync(CancellationToken.None);
        Assert.All(fleet.Where(d => d.Id != "fresh"), d => Assert.Equal(DigestV1, d.Desired!.Deployment!.Model.ManifestDigest));
        Assert.Null(fleet.Single(d => d.Id == "fresh").Desired!.Deployment);
    }

    [Fact]
    public async Task TickAsync_OverlappingRollouts_HighestPriorityDecidesEachDevice()
    {
        _store.AddDevice("berlin-pi4");
        _store.AddDevice("paris-pi4");
        _store.AddDevice("berlin-pi5");
        await TagAsync("berlin-pi4", "site=berlin,hw=pi4");
        await TagAsync("paris-pi4", "site=paris,hw=pi4");
        await TagAsync("berlin-pi5", "site=berlin,hw=pi5");

        var low = await CreateAsync("sensor:1", "hw=pi4", Stages(100), new RolloutGates(), priority: 1);
        var high = await CreateAsync("sensor:2", "site=berlin", Stages(100), new RolloutGates(), priority: 10);
        await _rollouts.TickAsync(CancellationToken.None);

        Assert.Equal(DigestV2, await DesiredDigestAsync("berlin-pi4"));
        Assert.Equal(DigestV1, await DesiredDigestAsync("paris-pi4"));
        Assert.Equal(DigestV2, await DesiredDigestAsync("berlin-pi5"));
        var lowNow = await _rollouts.GetAsync(low.Id, CancellationToken.None);
        Assert.Equal(RolloutDeviceStates.Superseded, (await DevicesAsync(lowNow)).Single(d => d.DeviceId == "berlin-pi4").State);

        // Once the higher one is rolled back, the lower one takes its device again.
        await _rollouts.RollbackAsync(high.Id, "ops", CancellationToken.None);
        Assert.Equal(DigestV1, await DesiredDigestAsync("berlin-pi4"));
    }

    [Fact]
    public async Task TickAsync_StoredSelectorThatCannotBeParsed_PausesThatRolloutWithTheReasonAndOthersGoOn()
    {
        _store.AddDevice("berlin-pi4");
        _store.AddDevice("paris-pi4");
        await TagAsync("berlin-pi4", "site=berlin,hw=pi4");
        await TagAsync("paris-pi4", "site=paris,hw=pi4");
        var broken = await CreateAsync("sensor:2", "site=berlin", Stages(100), new RolloutGates(), priority: 10);
        var healthy = await CreateAsync("sensor:2", "site=paris", Stages(100), new RolloutGates());
        // As if written past the API (or accepted by an older server): deeper than any tick will evaluate.
        var deep = new string('(', 100) + "site=berlin" + new string(')', 100);
        await _rolloutStore.SaveRolloutAsync(broken with { Selector = deep }, [], fence: null, CancellationToken.None);

        await _rollouts.TickAsync(CancellationToken.None);
        await _rollouts.TickAsync(CancellationToken.None);

        var brokenNow = await _rollouts.GetAsync(broken.Id, CancellationToken.None);
        Assert.Equal(RolloutStates.Paused, brokenNow.State);
        Assert.StartsWith("selector cannot be evaluated: at position 17: expected at most 16 nested parentheses", brokenNow.Reason, StringComparison.Ordinal);
        Assert.Equal(DigestV2, await DesiredDigestAsync("paris-pi4"));
        Assert.Equal(RolloutStates.Running, (await _rollouts.GetAsync(healthy.Id, CancellationToken.None)).State);
    }

    [Fact]
    public async Task TickAsync_DeviceJoinsMidRollout_LandsInItsOwnStageNeverAnEarlierOpening()
    {
        await AddFleetAsync(100, "site=berlin");
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(10, 50, 100), new RolloutGates());
        await DevicesApplyAsync();
        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);
        Assert.Equal(1, (await _rollouts.GetAsync(rollout.Id, CancellationToken.None)).CurrentStage);

        var joiners = Enumerable.Range(0, 200).Select(i => $"late-{i:000}").ToList();
        foreach (var id in joiners)
        {
            _store.AddDevice(id);
            await TagAsync(id, "site=berlin");
        }

        await _rollouts.TickAsync(CancellationToken.None);

        var state = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        var received = ReceivedV2();
        foreach (var id in joiners)
        {
            var position = RolloutService.Position(rollout.Id, id);
            var expectedStage = position < 0.1 ? 0 : position < 0.5 ? 1 : 2;
            Assert.Equal(expectedStage, (await DevicesAsync(state)).Single(d => d.DeviceId == id).Stage);
            Assert.Equal(expectedStage <= 1, received.Contains(id));
        }
    }

    [Fact]
    public async Task TickAsync_OfflineDeviceReturnsAfterTheTimeout_ConvergesInsteadOfFailing()
    {
        await AddFleetAsync(10, "site=berlin");
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(100), new RolloutGates(MaxFailurePercent: 0), deviceTimeoutSeconds: 60);
        var offline = ReceivedV2().First();
        await _store.SaveStatusAsync(offline, DeviceStatuses.Offline, _time.Now, CancellationToken.None);
        await DevicesApplyAsync(skip: id => id == offline);

        _time.Advance(TimeSpan.FromHours(2));
        await _rollouts.TickAsync(CancellationToken.None);
        Assert.Equal(RolloutDeviceStates.Deploying, (await DevicesAsync(rollout)).Single(d => d.DeviceId == offline).State);

        await _store.SaveStatusAsync(offline, DeviceStatuses.Online, _time.Now, CancellationToken.None);
        await DevicesApplyAsync();
        await _rollouts.TickAsync(CancellationToken.None);

        var done = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.All(await DevicesAsync(done), d => Assert.Equal(RolloutDeviceStates.Active, d.State));
        Assert.Equal(RolloutStates.Completed, done.State);
    }

    [Fact]
    public async Task TickAsync_OnlineDeviceStillInstallingAfterBake_HoldsTheNextStage()
    {
        await AddFleetAsync(50, "site=berlin");
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(20, 100), new RolloutGates(), deviceTimeoutSeconds: 3600);
        var stageOne = ReceivedV2();
        var slow = stageOne.First();
        await _store.SaveStatusAsync(slow, DeviceStatuses.Online, _time.Now, CancellationToken.None);
        await DevicesApplyAsync(skip: id => id == slow);

        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);
        Assert.Equal(stageOne, ReceivedV2());

        await DevicesApplyAsync();
        await _rollouts.TickAsync(CancellationToken.None);
        Assert.Equal(50, ReceivedV2().Count);
        Assert.Equal(1, (await _rollouts.GetAsync(rollout.Id, CancellationToken.None)).CurrentStage);
    }

    [Fact]
    public async Task TickAsync_OnlineDeviceSilentPastTheTimeout_CountsAsFailed()
    {
        await AddFleetAsync(4, "site=berlin");
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(100), new RolloutGates(), deviceTimeoutSeconds: 60);
        var silent = ReceivedV2().First();
        await _store.SaveStatusAsync(silent, DeviceStatuses.Online, _time.Now, CancellationToken.None);
        await DevicesApplyAsync(skip: id => id == silent);

        _time.Advance(TimeSpan.FromMinutes(2));
        await _rollouts.TickAsync(CancellationToken.None);

        var entry = (await DevicesAsync(rollout)).Single(d => d.DeviceId == silent);
        Assert.Equal(RolloutDeviceStates.Failed, entry.State);
        Assert.Contains("within 60s", entry.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateAsync_FailedAttestation_DeviceIsNeverSelected()
    {
        await AddFleetAsync(3, "site=berlin");
        await _store.SaveAttestationAsync("dev-0000", new AttestationStatus(AttestationStates.Failed, "measurement mismatch", _time.Now, null, null), CancellationToken.None);

        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(100), new RolloutGates());

        Assert.DoesNotContain(await DevicesAsync(rollout), d => d.DeviceId == "dev-0000");
        Assert.DoesNotContain("dev-0000", ReceivedV2());
    }

    [Fact]
    public async Task CreateAsync_AttestationRequired_OnlyVerifiedDevicesTakePart()
    {
        await AddFleetAsync(3, "site=berlin");
        await _store.SaveAttestationAsync("dev-0001", new AttestationStatus(AttestationStates.Verified, null, _time.Now, _time.Now.AddMinutes(15), null), CancellationToken.None);

        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(100), new RolloutGates(RequireAttestation: true));

        Assert.Equal(["dev-0001"], (await DevicesAsync(rollout)).Select(d => d.DeviceId));
        Assert.Equal(["dev-0001"], ReceivedV2());
    }

    [Theory]
    [InlineData("site=", "selector", "at position 6: expected a value after '='")]
    [InlineData("", "selector", "is required")]
    public async Task CreateAsync_BadSelector_NamesFieldAndPosition(string selector, string field, string problem)
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _rollouts.CreateAsync(new CreateRolloutRequest("sensor:2", selector, 0, Stages(100), null), "ops", CancellationToken.None));

        Assert.Equal(field, exception.Field);
        Assert.Contains(problem, exception.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateAsync_StagesNotCumulative_NamesTheStage()
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _rollouts.CreateAsync(new CreateRolloutRequest("sensor:2", "site=a", 0, Stages(50, 20), null), "ops", CancellationToken.None));

        Assert.Equal("stages[1].percent", exception.Field);
    }

    [Fact]
    public async Task CreateAsync_StageWithPercentAndCount_NamesTheStage()
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _rollouts.CreateAsync(new CreateRolloutRequest("sensor:2", "site=a", 0, [new RolloutStage(10, 5, 0)], null), "ops", CancellationToken.None));

        Assert.Equal("stages[0]", exception.Field);
    }

    [Fact]
    public async Task CreateAsync_CountStages_TakesThatManyDevicesPerStage()
    {
        await AddFleetAsync(50, "site=berlin");

        await CreateAsync("sensor:2", "site=berlin", [new RolloutStage(null, 5, 600), new RolloutStage(null, 20, 600)], new RolloutGates());

        Assert.Equal(5, ReceivedV2().Count);
    }

    [Fact]
    public async Task TickAsync_DeviceReportsEachStep_StateFollowsAndHistoryKeepsEachTransitionWithReasonAndTime()
    {
        await AddFleetAsync(1, "site=berlin", previous: _v1);
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(100), new RolloutGates());
        var seen = new List<string>();
        foreach (var step in new[] { ModelSlotStates.Downloading, ModelSlotStates.Verifying, ModelSlotStates.Staged })
        {
            _time.Advance(TimeSpan.FromSeconds(5));
            await ReportIncomingAsync("dev-0000", step);
            await _rollouts.TickAsync(CancellationToken.None);
            seen.Add((await DevicesAsync(rollout)).Single().State);
        }

        _time.Advance(TimeSpan.FromSeconds(5));
        await DevicesApplyAsync();
        await _rollouts.TickAsync(CancellationToken.None);

        var entry = (await DevicesAsync(rollout)).Single();
        Assert.Equal([RolloutDeviceStates.Downloading, RolloutDeviceStates.Verifying, RolloutDeviceStates.Staged], seen);
        Assert.Equal(RolloutDeviceStates.Active, entry.State);
        Assert.Equal(
            [RolloutDeviceStates.Pending, RolloutDeviceStates.Deploying, RolloutDeviceStates.Downloading, RolloutDeviceStates.Verifying, RolloutDeviceStates.Staged, RolloutDeviceStates.Active],
            entry.History!.Select(h => h.State));
        Assert.All(entry.History!, h => Assert.False(string.IsNullOrEmpty(h.Reason)));
        Assert.Equal(entry.History!.Select(h => h.At).Order(), entry.History!.Select(h => h.At));
        Assert.Equal(_time.Now, entry.History![^1].At);
        Assert.Equal(DigestV1, entry.Previous!.ManifestDigest);
    }

    [Fact]
    public async Task TickAsync_IncomingSlotFailed_DeviceFailsWithTheDevicesReason()
    {
        await AddFleetAsync(2, "site=berlin", previous: _v1);
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(100), new RolloutGates());

        await ReportIncomingAsync("dev-0000", ModelSlotStates.Failed, "verify: signature check failed: 0 valid signature(s)");
        await _rollouts.TickAsync(CancellationToken.None);

        var failed = (await DevicesAsync(rollout)).Single(d => d.DeviceId == "dev-0000");
        Assert.Equal(RolloutDeviceStates.Failed, failed.State);
        Assert.Equal("verify: signature check failed: 0 valid signature(s)", failed.Reason);
        Assert.Equal(RolloutDeviceStates.Deploying, (await DevicesAsync(rollout)).Single(d => d.DeviceId == "dev-0001").State);
    }

    [Fact]
    public async Task TickAsync_DownloadRetryingWithAnError_StaysDownloadingUntilTheTimeoutNamesTheStep()
    {
        await AddFleetAsync(1, "site=berlin", previous: _v1);
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(100), new RolloutGates(), deviceTimeoutSeconds: 600);
        await _store.SaveStatusAsync("dev-0000", DeviceStatuses.Online, _time.Now, CancellationToken.None);

        await ReportIncomingAsync("dev-0000", ModelSlotStates.Downloading, "install: registry unreachable; retrying in 4 s");
        await _rollouts.TickAsync(CancellationToken.None);
        var retrying = (await DevicesAsync(rollout)).Single();
        _time.Advance(TimeSpan.FromMinutes(11));
        await _rollouts.TickAsync(CancellationToken.None);
        var late = (await DevicesAsync(rollout)).Single();

        Assert.Equal(RolloutDeviceStates.Downloading, retrying.State);
        Assert.Equal(RolloutDeviceStates.Failed, late.State);
        Assert.Contains("within 600s (last step: downloading)", late.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TickAsync_ExponentialRateOnNotified_DevicesSentPerMinuteFollowTheSchedule()
    {
        await AddFleetAsync(300, "site=berlin");
        var rate = new RolloutRate(BaseRatePerMinute: 10, IncrementFactor: 2, MaxRatePerMinute: 50, IncreaseAfterNotified: 10);
        var start = _time.Now;
        await _rollouts.CreateAsync(new CreateRolloutRequest("sensor:2", "site=berlin", 0, Stages(100), null, Rate: rate), "ops", CancellationToken.None);
        var sentAt = new Dictionary<string, DateTimeOffset>(_published.Select(p => KeyValuePair.Create(p.DeviceId, start)));

        // Ticks every 5 seconds for six minutes, as the worker does.
        for (var tick = 1; tick < 72; tick++)
        {
            _time.Advance(TimeSpan.FromSeconds(5));
            await _rollouts.TickAsync(CancellationToken.None);
            foreach (var (deviceId, _) in _published)
            {
                sentAt.TryAdd(deviceId, _time.Now);
            }
        }

        var perMinute = Enumerable.Range(0, 6).Select(m => sentAt.Values.Count(t => (int)((t - start).TotalSeconds / 60) == m));
        Assert.Equal([10, 20, 40, 50, 50, 50], perMinute);
    }

    [Fact]
    public async Task TickAsync_ExponentialRateOnSucceeded_GrowsOnlyOnceDevicesReportActive()
    {
        await AddFleetAsync(100, "site=berlin");
        var rate = new RolloutRate(BaseRatePerMinute: 5, IncrementFactor: 3, MaxRatePerMinute: 100, IncreaseAfterSucceeded: 5);
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(100), new RolloutGates(), rate: rate);

        // Nobody reports active in the first minute: the second minute still sends only 5.
        _time.Advance(TimeSpan.FromSeconds(59));
        await _rollouts.TickAsync(CancellationToken.None);
        var secondMinute = ReceivedV2().Count;
        await DevicesApplyAsync();
        _time.Advance(TimeSpan.FromSeconds(60));
        await _rollouts.TickAsync(CancellationToken.None);
        var thirdMinute = ReceivedV2().Count;

        Assert.Equal(10, secondMinute);
        Assert.Equal(25, thirdMinute);
        var progress = (await _rollouts.GetAsync(rollout.Id, CancellationToken.None)).RateProgress!;
        Assert.Equal(15, progress.RatePerMinute);
        Assert.Equal(10, progress.Succeeded);
    }

    [Fact]
    public async Task TickAsync_RateHoldsBackPartOfAStage_StageDoesNotEndBeforeEveryDeviceWasSent()
    {
        await AddFleetAsync(100, "site=berlin");
        var rate = new RolloutRate(BaseRatePerMinute: 2, IncrementFactor: 1.1, MaxRatePerMinute: 2, IncreaseAfterNotified: 1000);
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(10, 100), new RolloutGates(), rate: rate);
        var stageOne = (await DevicesAsync(rollout)).Count(d => d.Stage == 0);

        _time.Advance(Bake);
        await DevicesApplyAsync();
        await _rollouts.TickAsync(CancellationToken.None);
        var afterBake = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        for (var minute = 0; minute < stageOne; minute++)
        {
            _time.Advance(TimeSpan.FromMinutes(1));
            await DevicesApplyAsync();
            await _rollouts.TickAsync(CancellationToken.None);
        }

        Assert.InRange(stageOne, 5, 20);
        Assert.Equal(0, afterBake.CurrentStage);
        Assert.Equal(stageOne, (await DevicesAsync(rollout)).Count(d => d.Stage == 0 && d.State == RolloutDeviceStates.Active));
        Assert.Equal(1, (await _rollouts.GetAsync(rollout.Id, CancellationToken.None)).CurrentStage);
    }

    [Theory]
    [InlineData(null, 2.0, 10, 5, null, "rate.baseRatePerMinute")]
    [InlineData(10, 1.0, 100, 5, null, "rate.incrementFactor")]
    [InlineData(10, 2.0, 5, 5, null, "rate.maxRatePerMinute")]
    [InlineData(10, 2.0, 100, null, null, "rate")]
    [InlineData(10, 2.0, 100, 5, 5, "rate")]
    [InlineData(10, 2.0, 100, 0, null, "rate.increaseAfterNotified")]
    public async Task CreateAsync_BadRate_NamesTheField(int? baseRate, double? factor, int? maxRate, int? afterNotified, int? afterSucceeded, string field)
    {
        var rate = new RolloutRate(baseRate, factor, maxRate, afterNotified, afterSucceeded);

        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _rollouts.CreateAsync(new CreateRolloutRequest("sensor:2", "site=a", 0, Stages(100), null, Rate: rate), "ops", CancellationToken.None));

        Assert.Equal(field, exception.Field);
    }

    [Fact]
    public async Task TickAsync_EventsScoredBeforeTheStageOpened_DoNotCountTowardItsMinimum()
    {
        await AddFleetAsync(100, "site=berlin");
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(10, 50, 100), new RolloutGates(MinEventsScored: 500));
        await DevicesApplyAsync();
        SetTelemetry(errors: 0);
        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);
        Assert.Equal(1, (await _rollouts.GetAsync(rollout.Id, CancellationToken.None)).CurrentStage);

        // Stage 2 bakes without a single new event: the thousand scored in stage 1 are outside its window.
        await DevicesApplyAsync();
        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);

        var held = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.Equal(1, held.CurrentStage);
        Assert.Equal("stage 2 holds: 0 of 500 events scored on the new version since the stage opened", held.Reason);
    }

    [Fact]
    public async Task TickAsync_P99SlowerThanTheSameDevicesBeforeTheStage_RollsBackComparingThemWithThemselves()
    {
        await AddFleetAsync(100, "site=berlin", previous: _v1);
        for (var minute = 1; minute <= 10; minute++)
        {
            SetTelemetry(errors: 0, p99Old: 10, at: _time.Now.AddMinutes(-minute));
        }

        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(30, 100), new RolloutGates(MaxP99Regression: 1.5));
        await DevicesApplyAsync();
        SetTelemetry(errors: 0, p99New: 20, p99Old: 30);
        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);

        var done = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.Equal(RolloutStates.RolledBack, done.State);
        Assert.Contains("p99 latency 20 ms is 2x the previous version's 10 ms", done.Reason, StringComparison.Ordinal);
        Assert.Contains("against themselves before the stage", done.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TickAsync_P99AsBeforeOnTheSameDevicesWhileOthersAreFaster_Advances()
    {
        await AddFleetAsync(100, "site=berlin", previous: _v1);
        for (var minute = 1; minute <= 10; minute++)
        {
            SetTelemetry(errors: 0, p99Old: 20, at: _time.Now.AddMinutes(-minute));
        }

        // The devices not yet moved are faster hardware; compared with them the new version looks
        // twice as slow, compared with themselves it is unchanged.
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(30, 100), new RolloutGates(MaxP99Regression: 1.5));
        await DevicesApplyAsync();
        SetTelemetry(errors: 0, p99New: 20, p99Old: 10);
        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);

        var advanced = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.Equal(RolloutStates.Running, advanced.State);
        Assert.Equal(1, advanced.CurrentStage);
    }

    [Fact]
    public async Task CreateAsync_ModelByAlias_PinsTheVersionItNamesThenAndRecordsBoth()
    {
        await AddFleetAsync(10, "site=berlin");
        var registry = Registry();
        await registry.SetAliasAsync("sensor", "production", new SetModelAliasRequest("2"), "ops", CancellationToken.None);

        var rollout = await CreateAsync("sensor@production", "site=berlin", Stages(10, 100), new RolloutGates());
        await registry.SetAliasAsync("sensor", "production", new SetModelAliasRequest("1"), "ops", CancellationToken.None);
        _time.Advance(Bake);
        await _rollouts.TickAsync(CancellationToken.None);

        var stored = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.Equal("production", stored.ModelAlias);
        Assert.Equal("2", stored.Model.Version);
        Assert.Equal(DigestV2, stored.Model.ManifestDigest);
        Assert.All(_published, p => Assert.Equal(DigestV2, p.Desired.Deployment!.Model.ManifestDigest));
    }

    [Theory]
    [InlineData("sensor@staging", "model 'sensor' has no alias 'staging' (its aliases: production)")]
    [InlineData("sensor@", "'sensor@': alias is required after '@', such as production")]
    [InlineData("sensor@7", "'sensor@7': alias must start with a lowercase letter (found '7'), so it cannot be taken for a version")]
    [InlineData("sensor:2@production", "'sensor:2@production': name may hold only lowercase letters, digits, '.', '_' and '-' (found ':')")]
    public async Task CreateAsync_BadAlias_Returns400NamingIt(string model, string problem)
    {
        await Registry().SetAliasAsync("sensor", "production", new SetModelAliasRequest("2"), "ops", CancellationToken.None);

        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _rollouts.CreateAsync(new CreateRolloutRequest(model, "site=a", 0, Stages(100), null), "ops", CancellationToken.None));

        Assert.Equal("model", exception.Field);
        Assert.Equal(problem, exception.Problem);
    }

    [Fact]
    public async Task GetDetailAsync_FailedDevicesPagedByCursor_EachFailedDeviceOnceAndOthersLeftOut()
    {
        await AddFleetAsync(60, "site=berlin");
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(100), new RolloutGates());
        await DevicesApplyAsync(fail: id => int.Parse(id[4..], System.Globalization.CultureInfo.InvariantCulture) % 3 == 0);
        await _rollouts.TickAsync(CancellationToken.None);

        var pages = new List<RolloutDetail>();
        string? after = null;
        do
        {
            var page = await _rollouts.GetDetailAsync(rollout.Id, RolloutDeviceStates.Failed, after, 7, CancellationToken.None);
            pages.Add(page);
            after = page.NextAfter;
        }
        while (after is not null);

        var failed = pages.SelectMany(p => p.Devices).ToList();
        Assert.Equal(20, failed.Count);
        Assert.Equal(failed.Select(d => d.DeviceId).Distinct().Order(StringComparer.Ordinal), failed.Select(d => d.DeviceId));
        Assert.All(failed, d => Assert.Equal(RolloutDeviceStates.Failed, d.State));
        Assert.Equal(3, pages.Count);
        Assert.Equal(20, pages[0].Rollout.Counts![RolloutDeviceStates.Failed]);
        Assert.Equal(40, pages[0].Rollout.Counts![RolloutDeviceStates.Active]);
    }

    [Theory]
    [InlineData("broken", null, "state")]
    [InlineData(null, 0, "limit")]
    [InlineData(null, 1001, "limit")]
    public async Task GetDetailAsync_BadQuery_NamesTheParameter(string? state, int? limit, string field)
    {
        await AddFleetAsync(1, "site=berlin");
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(100), new RolloutGates());

        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _rollouts.GetDetailAsync(rollout.Id, state, null, limit, CancellationToken.None));

        Assert.Equal(field, exception.Field);
    }

    [Fact]
    public async Task TickAsync_OneDeviceOfAThousandChanges_WritesThatDeviceOnly()
    {
        await AddFleetAsync(1000, "site=berlin", previous: _v1);
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(100), new RolloutGates());
        await DevicesApplyAsync();
        await _rollouts.TickAsync(CancellationToken.None);
        Assert.Equal(1000, (await DevicesAsync(rollout)).Count(d => d.State == RolloutDeviceStates.Active));

        await _rollouts.TickAsync(CancellationToken.None);
        var idle = _rolloutStore.DevicesWrittenPerSave.Count;
        await ReportIncomingAsync("dev-0042", ModelSlotStates.Failed, "probation failed");
        await _rollouts.TickAsync(CancellationToken.None);

        Assert.Equal(idle + 1, _rolloutStore.DevicesWrittenPerSave.Count);
        Assert.Equal(1, _rolloutStore.DevicesWrittenPerSave[^1]);
    }

    [Fact]
    public async Task TickAsync_AnotherControlPlaneChangedTheRollout_ReadsItsDevicesAfresh()
    {
        await AddFleetAsync(10, "site=berlin", previous: _v1);
        var rollout = await CreateAsync("sensor:2", "site=berlin", Stages(100), new RolloutGates(MaxFailurePercent: 0));
        await DevicesApplyAsync();
        await _rollouts.TickAsync(CancellationToken.None);

        // Another replica recorded a failure this one has not seen: the rollout's update time moved.
        var stored = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        var device = (await DevicesAsync(rollout))[3];
        _time.Advance(TimeSpan.FromSeconds(5));
        await _rolloutStore.SaveRolloutAsync(
            stored with { UpdatedAt = _time.Now },
            [device with { State = RolloutDeviceStates.Failed, Reason = "seen by the other replica", Since = _time.Now }],
            fence: null,
            CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(5));
        await _rollouts.TickAsync(CancellationToken.None);

        var done = await _rollouts.GetAsync(rollout.Id, CancellationToken.None);
        Assert.Equal(RolloutStates.RolledBack, done.State);
        Assert.Contains("1 of 10 devices failed", done.Reason, StringComparison.Ordinal);
    }

    private static List<RolloutStage> Stages(params double[] percents) =>
        [.. percents.Select(p => new RolloutStage(p, null, (int)Bake.TotalSeconds))];

    private async Task<RolloutInfo> CreateAsync(string model, string selector, List<RolloutStage> stages, RolloutGates gates, int priority = 0, int? deviceTimeoutSeconds = null, RolloutRate? rate = null)
    {
        var rollout = await _rollouts.CreateAsync(new CreateRolloutRequest(model, selector, priority, stages, gates, deviceTimeoutSeconds, rate), "ops", CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(1));
        return rollout;
    }

    private async Task AddFleetAsync(int count, string tags, ModelReference? previous = null)
    {
        for (var i = 0; i < count; i++)
        {
            var id = $"dev-{i:0000}";
            _store.AddDevice(id, previous is null ? null : new DesiredState(1, new DeploymentSpec("dep-old", previous), TelemetrySettings.Default));
            await TagAsync(id, tags);
        }
    }

    private async Task TagAsync(string id, string tags)
    {
        var device = await _store.GetDeviceAsync(id, CancellationToken.None);
        var parsed = tags.Split(',').Select(t => t.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
        await _store.UpsertDeviceAsync(device! with { Tags = parsed }, CancellationToken.None);
    }

    /// <summary>Devices that were ever sent the new version, in order.</summary>
    private List<string> ReceivedV2() =>
        [.. _published.Where(p => p.Desired.Deployment?.Model.ManifestDigest == DigestV2).Select(p => p.DeviceId).Distinct()];

    private async Task<string?> DesiredDigestAsync(string id) =>
        (await _store.GetDeviceAsync(id, CancellationToken.None))?.Desired?.Deployment?.Model.ManifestDigest;

    /// <summary>Each device acts on its newest desired state as an agent would: reports it active, or the error.</summary>
    private async Task DevicesApplyAsync(Func<string, bool>? fail = null, Func<string, bool>? skip = null)
    {
        foreach (var device in await _store.ListDevicesAsync(CancellationToken.None))
        {
            if (device.Desired is not { } desired || skip?.Invoke(device.Id) == true)
            {
                continue;
            }

            var model = desired.Deployment?.Model;
            var failed = model is not null && fail?.Invoke(device.Id) == true;
            var slots = model is null || failed
                ? Array.Empty<ModelSlotReport>()
                : [new ModelSlotReport(ModelSlots.Primary, model.Name, model.Version, model.ManifestDigest, ModelSlotStates.Active, _time.Now)];
            var reported = new ReportedState("test", desired.Version, slots, failed ? "warm-up failed: 3 of 3 inferences threw" : null, _time.Now);
            await _store.SaveReportedAsync(device.Id, reported, _time.Now, CancellationToken.None);
        }
    }

    /// <summary>
    /// One minute of telemetry from every device that has a model, as ingest rolls it up: 100
    /// events, <paramref name="errors"/> of them failed on the new version, at the given p99.
    /// </summary>
    private void SetTelemetry(long errors, double p99New = 5, double p99Old = 5, DateTimeOffset? at = null)
    {
        var minute = at ?? _time.Now;
        foreach (var device in _store.ListDevicesAsync(CancellationToken.None).Result)
        {
            if (device.Desired?.Deployment?.Model is not { } model)
            {
                continue;
            }

            var isNew = model.ManifestDigest == DigestV2;
            _store.AddMinute(new TelemetryMinute(
                device.Id, new DateTimeOffset(minute.Year, minute.Month, minute.Day, minute.Hour, minute.Minute, 0, TimeSpan.Zero), model.Name, model.Version,
                6, 100, 100 - (isNew ? errors : 0), isNew ? errors : 0, 0, 1, isNew ? p99New : p99Old, 50, 1, 1, 0, 0, 1));
        }
    }

    /// <summary>
    /// The device reports, for its newest desired state, the new version's step in the incoming
    /// slot beside the old version serving in the primary slot, as the agent does.
    /// </summary>
    private async Task ReportIncomingAsync(string deviceId, string slotState, string? error = null)
    {
        var device = (await _store.GetDeviceAsync(deviceId, CancellationToken.None))!;
        var model = device.Desired!.Deployment!.Model;
        var slots = new List<ModelSlotReport>();
        if (device.Reported?.Slots.FirstOrDefault(s => s.Slot == ModelSlots.Primary && s.ManifestDigest != model.ManifestDigest) is { } primary)
        {
            slots.Add(primary);
        }

        slots.Add(new ModelSlotReport(ModelSlots.Incoming, model.Name, model.Version, model.ManifestDigest, slotState, _time.Now));
        await _store.SaveReportedAsync(deviceId, new ReportedState("test", device.Desired.Version, slots, error, _time.Now), _time.Now, CancellationToken.None);
    }

    private ModelRegistry Registry() =>
        new(_store, new InMemoryArtifactStore(), Substitute.For<ITrustPublisher>(), _time, NullLogger<ModelRegistry>.Instance);

    private async Task<IReadOnlyList<RolloutDevice>> DevicesAsync(RolloutInfo rollout) =>
        await _rolloutStore.ListRolloutDevicesAsync(rollout.Id, CancellationToken.None);

    private static ModelRecord Model(string name, string version, string digest) =>
        new("models/" + name, name, version, digest, 100, "sha256:" + new string('f', 64), 10, "c2ln", new Dictionary<string, double>(), DateTimeOffset.UnixEpoch);
}
