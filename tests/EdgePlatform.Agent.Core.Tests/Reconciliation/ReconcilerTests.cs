using EdgePlatform.Agent.Core.Packages;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Reconciliation;
using EdgePlatform.Contracts;
using EdgePlatform.Security;
using NSubstitute;
using NSubstitute.ExceptionExtensions;

namespace EdgePlatform.Agent.Core.Tests.Reconciliation;

public sealed class ReconcilerTests : IDisposable
{
    private static readonly TimeSpan Patience = TestAgent.Patience;

    private readonly TestAgent _agent = new();
    private readonly FakeRegistryClient _registry;
    private readonly ManualTimeProvider _clock;
    private readonly FakeRuntime _runtime;
    private readonly ICloudLink _link;
    private readonly DesiredStateInbox _inbox;

    public ReconcilerTests()
    {
        _registry = _agent.Registry;
        _clock = _agent.Clock;
        _runtime = _agent.Runtime;
        _link = _agent.Link;
        _inbox = _agent.Inbox;
    }

    public void Dispose() => _agent.Dispose();

    [Fact]
    public async Task ReconcileAsync_GoodPackage_ActivatesRecordsAndReportsIt()
    {
        var package = Publish("1.0.0");
        using var reconciler = NewReconciler();

        var outcome = await reconciler.ReconcileAsync(Desired(1, package), CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Null(outcome.Error);
        await _runtime.Port.Received(1).StageAsync(Arg.Is<InstalledModel>(m => m.Reference == package.Reference), Arg.Any<CancellationToken>());
        _runtime.Port.Received(1).Activate(Arg.Is<IStagedModel>(s => s.Model.Reference == package.Reference));
        Assert.Equal(package.Reference, _runtime.Port.Active?.Reference);

        var saved = SavedState();
        Assert.Equal(1, saved.DesiredVersion);
        Assert.Equal(package.Reference, saved.Active);
        Assert.Null(saved.LastError);

        var report = reconciler.BuildReport();
        Assert.Equal(1, report.DesiredVersion);
        Assert.Null(report.LastError);
        var slot = Assert.Single(report.Slots);
        Assert.Equal(ModelSlots.Primary, slot.Slot);
        Assert.Equal(ModelSlotStates.Active, slot.State);
        Assert.Equal(package.Reference.ManifestDigest, slot.ManifestDigest);
        Assert.Equal("1.0.0", slot.Version);
    }

    [Fact]
    public async Task ReconcileAsync_ServingReleaseAskedForInItsContainer_StagesItAgainOnTheContainerRuntime()
    {
        var package = Publish("1.0.0");
        using var reconciler = NewReconciler();
        Assert.True((await reconciler.ReconcileAsync(Desired(1, package), CancellationToken.None)).Succeeded);

        var inContainer = package.Reference with { Runtime = ModelRuntimeKinds.Container };
        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, inContainer), CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.Error);
        await _runtime.Port.Received(1).StageAsync(Arg.Is<InstalledModel>(m => m.Reference.RunsInContainer), Arg.Any<CancellationToken>());
        Assert.True(_runtime.Port.Active?.Reference.RunsInContainer);
        Assert.True(SavedState().Active?.RunsInContainer);
    }

    [Fact]
    public async Task BuildReport_AfterActivation_SlotSinceIsActivationTime()
    {
        var package = Publish("1.0.0");
        using var reconciler = NewReconciler();
        var activatedAt = _clock.GetUtcNow();
        await reconciler.ReconcileAsync(Desired(1, package), CancellationToken.None);
        _clock.Advance(TimeSpan.FromMinutes(5));

        var report = reconciler.BuildReport();

        Assert.Equal(activatedAt, Assert.Single(report.Slots).Since);
        Assert.Equal(activatedAt + TimeSpan.FromMinutes(5), report.ReportedAt);
    }

    [Fact]
    public async Task ReconcileAsync_TamperedPackageAfterGoodOne_RefusesAndKeepsServingTheGoodOne()
    {
        var good = Publish("1.0.0");
        var tampered = Publish("2.0.0");
        var changed = tampered.ModelBytes.ToArray();
        changed[0] ^= 0x01;
        _registry.ServeBlob(tampered.OnnxDigest, changed);
        using var reconciler = NewReconciler();
        Assert.True((await reconciler.ReconcileAsync(Desired(1, good), CancellationToken.None)).Succeeded);

        var outcome = await reconciler.ReconcileAsync(Desired(2, tampered), CancellationToken.None);

        Assert.False(outcome.Succeeded);
        Assert.Contains(VerificationChecks.LayerDigest, outcome.Error, StringComparison.Ordinal);
        await _runtime.Port.DidNotReceive().StageAsync(Arg.Is<InstalledModel>(m => m.Reference == tampered.Reference), Arg.Any<CancellationToken>());
        _runtime.Port.DidNotReceive().Activate(Arg.Is<IStagedModel>(s => s.Model.Reference == tampered.Reference));
        Assert.Equal(good.Reference, _runtime.Port.Active?.Reference);

        var report = reconciler.BuildReport();
        Assert.Equal(good.Reference.ManifestDigest, report.Slots.Single(s => s.Slot == ModelSlots.Primary).ManifestDigest);
        var incoming = report.Slots.Single(s => s.Slot == ModelSlots.Incoming);
        Assert.Equal((tampered.Reference.ManifestDigest, ModelSlotStates.Failed), (incoming.ManifestDigest, incoming.State));
        Assert.Contains(VerificationChecks.LayerDigest, report.LastError, StringComparison.Ordinal);
        Assert.Equal(2, report.DesiredVersion);

        var saved = SavedState();
        Assert.Equal(good.Reference, saved.Active);
        Assert.Equal(2, saved.DesiredVersion);
        Assert.Contains(VerificationChecks.LayerDigest, saved.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReconcileAsync_ManifestSignedByKeysThatAreNotTargetsKeys_RefusesNamingSignature()
    {
        var stranger = _agent.Publisher.NewKey("someone else's key");
        var package = _agent.Publisher.Build("sensor-anomaly", "1.0.0", signers: [stranger]);
        _registry.Publish(package);
        _agent.Publisher.Approve(package);
        using var reconciler = NewReconciler();

        var outcome = await reconciler.ReconcileAsync(Desired(1, package), CancellationToken.None);

        Assert.False(outcome.Succeeded);
        Assert.Contains($"{VerificationChecks.Signature} check failed", outcome.Error, StringComparison.Ordinal);
        Assert.Empty(_runtime.Staged);
        var slot = Assert.Single(reconciler.BuildReport().Slots);
        Assert.Equal((ModelSlots.Incoming, ModelSlotStates.Failed), (slot.Slot, slot.State));
        Assert.Null(SavedState().Active);
    }

    [Fact]
    public async Task ReconcileAsync_OlderDesiredVersion_IsIgnored()
    {
        var applied = Publish("2.0.0");
        var older = Publish("1.0.0");
        using var reconciler = NewReconciler();
        await reconciler.ReconcileAsync(Desired(5, applied), CancellationToken.None);
        var pulls = _registry.Pulls;

        var outcome = await reconciler.ReconcileAsync(Desired(3, older), CancellationToken.None);

        Assert.False(outcome.Succeeded);
        Assert.Contains("older", outcome.Error, StringComparison.Ordinal);
        Assert.Equal(pulls, _registry.Pulls);
        Assert.Single(_runtime.Staged);
        Assert.Equal(applied.Reference, _runtime.Port.Active?.Reference);
        var report = reconciler.BuildReport();
        Assert.Equal(5, report.DesiredVersion);
        Assert.Equal(applied.Reference.ManifestDigest, Assert.Single(report.Slots).ManifestDigest);
        Assert.Equal(5, SavedState().DesiredVersion);
    }

    [Fact]
    public async Task ReconcileAsync_StageFails_ActivatesNothingAndReportsTheError()
    {
        var good = Publish("1.0.0");
        var broken = Publish("2.0.0");
        using var reconciler = NewReconciler();
        await reconciler.ReconcileAsync(Desired(1, good), CancellationToken.None);
        _runtime.Port.StageAsync(Arg.Is<InstalledModel>(m => m.Reference == broken.Reference), Arg.Any<CancellationToken>())
            .ThrowsAsync(new ModelStageException("input 'temperature' is missing from the graph"));

        var outcome = await reconciler.ReconcileAsync(Desired(2, broken), CancellationToken.None);

        Assert.False(outcome.Succeeded);
        Assert.Contains("input 'temperature' is missing from the graph", outcome.Error, StringComparison.Ordinal);
        _runtime.Port.Received(1).Activate(Arg.Any<IStagedModel>());
        Assert.Equal(good.Reference, _runtime.Port.Active?.Reference);
        Assert.Equal(good.Reference, Assert.Single(_runtime.Staged).Model.Reference);
        var report = reconciler.BuildReport();
        Assert.Equal(good.Reference.ManifestDigest, report.Slots.Single(s => s.Slot == ModelSlots.Primary).ManifestDigest);
        Assert.Equal(ModelSlotStates.Failed, report.Slots.Single(s => s.Slot == ModelSlots.Incoming).State);
        Assert.Contains("input 'temperature' is missing from the graph", report.LastError, StringComparison.Ordinal);
        Assert.Equal(good.Reference, SavedState().Active);
    }

    [Fact]
    public async Task ReconcileAsync_ActivateFails_DisposesTheStagedModelOnce()
    {
        var good = Publish("1.0.0");
        var next = Publish("2.0.0");
        using var reconciler = NewReconciler();
        await reconciler.ReconcileAsync(Desired(1, good), CancellationToken.None);
        _runtime.ActivationFailure = new InvalidOperationException("swap failed");

        var outcome = await reconciler.ReconcileAsync(Desired(2, next), CancellationToken.None);

        Assert.False(outcome.Succeeded);
        Assert.Contains("swap failed", outcome.Error, StringComparison.Ordinal);
        var staged = Assert.Single(_runtime.Staged, s => s.Model.Reference == next.Reference);
        Assert.Equal(1, staged.DisposeCount);
        Assert.Equal(good.Reference, _runtime.Port.Active?.Reference);
        Assert.Equal(good.Reference, SavedState().Active);
    }

    [Fact]
    public async Task StartAsync_StateOnDisk_ResumesActiveModelWithoutRegistryOrMetadataServer()
    {
        var package = Publish("1.0.0");
        using (var first = NewReconciler())
        {
            await first.ReconcileAsync(Desired(1, package), CancellationToken.None);
        }

        var pulls = _registry.Pulls;
        _agent.Publisher.Remote.Offline = true;
        var restartedRuntime = new FakeRuntime();
        using var restarted = NewReconciler(restartedRuntime);

        await restarted.StartAsync(CancellationToken.None);
        try
        {
            await restarted.Started.WaitAsync(Patience);

            await restartedRuntime.Port.Received(1).StageAsync(Arg.Is<InstalledModel>(m => m.Reference == package.Reference), Arg.Any<CancellationToken>());
            restartedRuntime.Port.Received(1).Activate(Arg.Is<IStagedModel>(s => s.Model.Reference == package.Reference));
            Assert.Equal(pulls, _registry.Pulls);
            var report = restarted.BuildReport();
            Assert.Equal(1, report.DesiredVersion);
            Assert.Equal(package.Reference.ManifestDigest, Assert.Single(report.Slots).ManifestDigest);
        }
        finally
        {
            await restarted.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task StartAsync_ActiveModelAlteredOnDisk_DoesNotActivateAndReportsWhy()
    {
        var package = Publish("1.0.0");
        using (var first = NewReconciler())
        {
            await first.ReconcileAsync(Desired(1, package), CancellationToken.None);
        }

        await Packages.PackageInstallerTests.FlipFirstByteAsync(new LocalModelStore(_agent.DataDirectory).PathOf(package.OnnxDigest));
        var restartedRuntime = new FakeRuntime();
        using var restarted = NewReconciler(restartedRuntime);

        await restarted.StartAsync(CancellationToken.None);
        try
        {
            await restarted.Started.WaitAsync(Patience);

            restartedRuntime.Port.DidNotReceive().Activate(Arg.Any<IStagedModel>());
            Assert.Contains(VerificationChecks.LayerDigest, restarted.BuildReport().LastError, StringComparison.Ordinal);
        }
        finally
        {
            await restarted.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task ExecuteAsync_DesiredStatePosted_ReconcilesAndPublishesReport()
    {
        var package = Publish("1.0.0");
        _link.IsConnected.Returns(true);
        using var reconciler = NewReconciler();
        var reconciled = new TaskCompletionSource<ReconcileOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        reconciler.Reconciled += outcome => reconciled.TrySetResult(outcome);
        await reconciler.StartAsync(CancellationToken.None);
        try
        {
            await reconciler.Started.WaitAsync(Patience);

            _inbox.Post(Desired(1, package));
            var outcome = await reconciled.Task.WaitAsync(Patience);

            Assert.True(outcome.Succeeded, outcome.Error);
            await _link.Received(1).PublishReportedAsync(
                Arg.Is<ReportedState>(r => r.DesiredVersion == 1 && r.Slots.Count == 1 && r.Slots[0].Slot == ModelSlots.Primary && r.Slots[0].ManifestDigest == package.Reference.ManifestDigest),
                Arg.Any<CancellationToken>());
        }
        finally
        {
            await reconciler.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task ExecuteAsync_DownloadCutOffThreeTimes_KeepsRetryingTheSameDesiredStateUntilInstalled()
    {
        var package = Publish("1.0.0");
        var attempts = 0;
        _registry.ServeBlob(package.OnnxDigest, () => Interlocked.Increment(ref attempts) <= 3
            ? new Packages.BreakingStream(package.ModelBytes, package.ModelBytes.Length / 2)
            : new MemoryStream(package.ModelBytes, writable: false));
        var quickRetry = new Resilience.RetryBackoffOptions { FirstDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(50) };
        using var reconciler = _agent.NewReconciler(reconcileRetry: quickRetry);

        var outcomes = await ReconcileUntilInstalledAsync(reconciler, Desired(1, package));

        Assert.Equal([false, false, false, true], outcomes.Select(o => o.Succeeded));
        Assert.All(outcomes, o => Assert.Equal(1, o.DesiredVersion));
        Assert.Equal(4, attempts);
        Assert.Equal(package.Reference.ManifestDigest, reconciler.BuildReport().Slots.Single().ManifestDigest);
    }

    [Fact]
    public async Task ExecuteAsync_DownloadCutOff_RetriesAndInstallsWithoutANewDesiredState()
    {
        var package = Publish("1.0.0");
        var attempts = 0;
        _registry.ServeBlob(package.OnnxDigest, () => ++attempts == 1
            ? new Packages.BreakingStream(package.ModelBytes, package.ModelBytes.Length / 2)
            : new MemoryStream(package.ModelBytes, writable: false));
        using var reconciler = NewReconciler();

        var outcomes = await ReconcileUntilInstalledAsync(reconciler, Desired(1, package));

        Assert.False(outcomes[0].Succeeded);
        Assert.Contains("connection reset", outcomes[0].Error, StringComparison.Ordinal);
        Assert.Equal(package.Reference.ManifestDigest, reconciler.BuildReport().Slots.Single().ManifestDigest);
        Assert.Equal(2, attempts);
    }

    [Fact]
    public async Task ExecuteAsync_NewVersionOnItsWay_ReportsEachStepInOrderBesideTheServingPrimarySlot()
    {
        var v1 = Publish("1.0.0");
        var v2 = Publish("2.0.0");
        var reports = CaptureReports();
        using var reconciler = NewReconciler();
        var outcomes = System.Threading.Channels.Channel.CreateUnbounded<ReconcileOutcome>();
        reconciler.Reconciled += outcome => outcomes.Writer.TryWrite(outcome);
        await reconciler.StartAsync(CancellationToken.None);
        try
        {
            _inbox.Post(Desired(1, v1));
            Assert.True((await outcomes.Reader.ReadAsync().AsTask().WaitAsync(Patience)).Succeeded);
            reports.Clear();

            _inbox.Post(Desired(2, v2));
            var outcome = await outcomes.Reader.ReadAsync().AsTask().WaitAsync(Patience);

            Assert.True(outcome.Succeeded, outcome.Error);
        }
        finally
        {
            await reconciler.StopAsync(CancellationToken.None);
        }

        var steps = reports.SkipLast(1).ToList();
        Assert.Equal(
            [ModelSlotStates.Downloading, ModelSlotStates.Verifying, ModelSlotStates.Staged],
            steps.Select(r => r.Slots.Single(s => s.Slot == ModelSlots.Incoming).State));
        Assert.All(steps, r =>
        {
            Assert.Equal(2, r.DesiredVersion);
            Assert.Null(r.LastError);
            Assert.Equal(v1.Reference.ManifestDigest, r.Slots.Single(s => s.Slot == ModelSlots.Primary).ManifestDigest);
            Assert.Equal(v2.Reference.ManifestDigest, r.Slots.Single(s => s.Slot == ModelSlots.Incoming).ManifestDigest);
        });
        var last = reports[^1];
        var primary = Assert.Single(last.Slots);
        Assert.Equal((ModelSlots.Primary, v2.Reference.ManifestDigest, ModelSlotStates.Active), (primary.Slot, primary.ManifestDigest, primary.State));
        Assert.Null(last.LastError);
    }

    [Fact]
    public async Task ReconcileAsync_NewVersionFailsToWarmUp_IncomingSlotSaysFailedWithTheReasonAndSurvivesARestart()
    {
        var v1 = Publish("1.0.0");
        var v2 = Publish("2.0.0");
        using var reconciler = NewReconciler();
        Assert.True((await reconciler.ReconcileAsync(Desired(1, v1), CancellationToken.None)).Succeeded);
        var reports = CaptureReports();
        _runtime.Port.StageAsync(Arg.Is<InstalledModel>(m => m.Reference == v2.Reference), Arg.Any<CancellationToken>())
            .Returns(Task.FromException<IStagedModel>(new ModelStageException("warm-up failed: 3 of 3 inferences threw")));

        var outcome = await reconciler.ReconcileAsync(Desired(2, v2), CancellationToken.None);
        var report = reconciler.BuildReport();

        Assert.False(outcome.Succeeded);
        Assert.Equal([ModelSlotStates.Downloading, ModelSlotStates.Verifying], reports.Select(r => r.Slots.Single(s => s.Slot == ModelSlots.Incoming).State));
        var incoming = report.Slots.Single(s => s.Slot == ModelSlots.Incoming);
        Assert.Equal((v2.Reference.ManifestDigest, ModelSlotStates.Failed), (incoming.ManifestDigest, incoming.State));
        Assert.Equal(v1.Reference.ManifestDigest, report.Slots.Single(s => s.Slot == ModelSlots.Primary).ManifestDigest);
        Assert.Equal("stage: warm-up failed: 3 of 3 inferences threw", report.LastError);

        using var restarted = NewReconciler();
        await restarted.StartAsync(CancellationToken.None);
        try
        {
            await restarted.Started.WaitAsync(Patience);
            Assert.Equal(ModelSlotStates.Failed, restarted.BuildReport().Slots.Single(s => s.Slot == ModelSlots.Incoming).State);
        }
        finally
        {
            await restarted.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task ReconcileAsync_RegistryUnreachableDuringDownload_StaysDownloadingWithTheErrorForTheRetry()
    {
        var v1 = Publish("1.0.0");
        var v2 = Publish("2.0.0");
        using var reconciler = NewReconciler();
        Assert.True((await reconciler.ReconcileAsync(Desired(1, v1), CancellationToken.None)).Succeeded);
        _registry.ServeBlob(v2.OnnxDigest, () => throw new HttpRequestException("connection refused"));

        var outcome = await reconciler.ReconcileAsync(Desired(2, v2), CancellationToken.None);
        var report = reconciler.BuildReport();

        Assert.False(outcome.Succeeded);
        var incoming = report.Slots.Single(s => s.Slot == ModelSlots.Incoming);
        Assert.Equal((v2.Reference.ManifestDigest, ModelSlotStates.Downloading), (incoming.ManifestDigest, incoming.State));
        Assert.Contains("connection refused", report.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReconcileAsync_DesiredStateBackToTheServingVersionAfterAFailure_IncomingSlotIsGone()
    {
        var v1 = Publish("1.0.0");
        var v2 = Publish("2.0.0");
        using var reconciler = NewReconciler();
        Assert.True((await reconciler.ReconcileAsync(Desired(1, v1), CancellationToken.None)).Succeeded);
        _runtime.Port.StageAsync(Arg.Is<InstalledModel>(m => m.Reference == v2.Reference), Arg.Any<CancellationToken>())
            .Returns(Task.FromException<IStagedModel>(new ModelStageException("warm-up failed")));
        Assert.False((await reconciler.ReconcileAsync(Desired(2, v2), CancellationToken.None)).Succeeded);

        // A rollback points the device at the version it serves.
        Assert.True((await reconciler.ReconcileAsync(Desired(3, v1), CancellationToken.None)).Succeeded);

        var report = reconciler.BuildReport();
        Assert.Equal(v1.Reference.ManifestDigest, Assert.Single(report.Slots).ManifestDigest);
        Assert.Null(report.LastError);
        Assert.Null(SavedState().Incoming);
    }

    /// <summary>Every report the agent publishes from now on, in order, over a connected link.</summary>
    private List<ReportedState> CaptureReports()
    {
        var reports = new List<ReportedState>();
        _link.IsConnected.Returns(true);
        _link.PublishReportedAsync(Arg.Any<ReportedState>(), Arg.Any<CancellationToken>()).Returns(call =>
        {
            lock (reports)
            {
                reports.Add(call.Arg<ReportedState>());
            }

            return Task.CompletedTask;
        });
        return reports;
    }

    private Reconciler NewReconciler(FakeRuntime? runtime = null) => _agent.NewReconciler(runtime);

    /// <summary>Runs the reconciler until <paramref name="desired"/> is installed; returns every outcome up to that, in order.</summary>
    private async Task<List<ReconcileOutcome>> ReconcileUntilInstalledAsync(Reconciler reconciler, DesiredState desired)
    {
        var outcomes = new List<ReconcileOutcome>();
        var installed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        reconciler.Reconciled += outcome =>
        {
            lock (outcomes)
            {
                outcomes.Add(outcome);
            }

            if (outcome.Succeeded)
            {
                installed.TrySetResult();
            }
        };
        await reconciler.StartAsync(CancellationToken.None);
        try
        {
            await reconciler.Started.WaitAsync(Patience);
            _inbox.Post(desired);
            await installed.Task.WaitAsync(Patience);
        }
        finally
        {
            await reconciler.StopAsync(CancellationToken.None);
        }

        lock (outcomes)
        {
            return [.. outcomes];
        }
    }

    private TestPackage Publish(string version) => _agent.Release(version);

    private static DesiredState Desired(long version, TestPackage package) => TestAgent.Desired(version, package);

    private AgentState SavedState() => _agent.SavedState();
}
