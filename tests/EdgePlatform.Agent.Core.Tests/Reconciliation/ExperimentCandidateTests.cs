using EdgePlatform.Agent.Core.Packages;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Reconciliation;
using EdgePlatform.Contracts;
using EdgePlatform.Security;
using EdgePlatform.Security.Tuf;
using NSubstitute;
using NSubstitute.ExceptionExtensions;

namespace EdgePlatform.Agent.Core.Tests.Reconciliation;

/// <summary>An experiment's candidate arm, delivered in the desired state beside the primary and verified as the primary is.</summary>
public sealed class ExperimentCandidateTests : IDisposable
{
    private static readonly TimeSpan Patience = TestAgent.Patience;

    private readonly TestAgent _agent = new();
    private readonly TestPackage _primary;

    public ExperimentCandidateTests()
    {
        _primary = _agent.Release("1.0.0");
    }

    public void Dispose() => _agent.Dispose();

    [Fact]
    public async Task ReconcileAsync_ExperimentNamesCandidate_InstallsAndActivatesItBesideThePrimaryWithSplitAndSalt()
    {
        var candidate = _agent.Release("2.0.0");
        var placement = TestAgent.Split(candidate, percent: 30, salt: "exp-42");
        using var reconciler = _agent.NewReconciler();

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(1, _primary, placement), CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.Error);
        var runtime = _agent.Runtime;
        Assert.Equal(_primary.Reference, runtime.Port.Active?.Reference);
        Assert.Equal(candidate.Reference, runtime.Port.Candidate?.Reference);
        Assert.Equal(placement, runtime.Arms);
        Assert.Equal((ExperimentModes.Split, 30.0, "exp-42"), (runtime.Arms!.Mode, runtime.Arms.Percent, runtime.Arms.Salt));
        runtime.Port.Received(1).Activate(Arg.Any<IStagedModel>());

        var report = reconciler.BuildReport();
        Assert.Null(report.LastError);
        Assert.Equal(
            [(ModelSlots.Primary, _primary.Reference.ManifestDigest, ModelSlotStates.Active), (ModelSlots.Candidate, candidate.Reference.ManifestDigest, ModelSlotStates.Active)],
            report.Slots.Select(s => (s.Slot, s.ManifestDigest, s.State)));

        var saved = _agent.SavedState();
        Assert.Equal(_primary.Reference, saved.Active);
        Assert.Equal((placement, ModelSlotStates.Active), (saved.Candidate?.Placement, saved.Candidate?.State));
    }

    [Fact]
    public async Task ExecuteAsync_CandidateOnItsWay_ReportsEachStepInTheCandidateSlotBesideTheServingPrimary()
    {
        var candidate = _agent.Release("2.0.0");
        var reports = CaptureReports();
        using var reconciler = _agent.NewReconciler();
        var outcomes = System.Threading.Channels.Channel.CreateUnbounded<ReconcileOutcome>();
        reconciler.Reconciled += outcome => outcomes.Writer.TryWrite(outcome);
        await reconciler.StartAsync(CancellationToken.None);
        try
        {
            _agent.Inbox.Post(TestAgent.Desired(1, _primary));
            Assert.True((await outcomes.Reader.ReadAsync().AsTask().WaitAsync(Patience)).Succeeded);
            lock (reports)
            {
                reports.Clear();
            }

            _agent.Inbox.Post(TestAgent.Desired(2, _primary, TestAgent.Split(candidate)));
            var outcome = await outcomes.Reader.ReadAsync().AsTask().WaitAsync(Patience);

            Assert.True(outcome.Succeeded, outcome.Error);
        }
        finally
        {
            await reconciler.StopAsync(CancellationToken.None);
        }

        Assert.Equal(
            [ModelSlotStates.Downloading, ModelSlotStates.Verifying, ModelSlotStates.Staged, ModelSlotStates.Active],
            reports.Select(r => r.Slots.Single(s => s.Slot == ModelSlots.Candidate).State));
        Assert.All(reports, r =>
        {
            Assert.Equal(2, r.DesiredVersion);
            Assert.Null(r.LastError);
            Assert.Equal(_primary.Reference.ManifestDigest, r.Slots.Single(s => s.Slot == ModelSlots.Primary).ManifestDigest);
            Assert.Equal(candidate.Reference.ManifestDigest, r.Slots.Single(s => s.Slot == ModelSlots.Candidate).ManifestDigest);
        });
    }

    [Fact]
    public async Task ReconcileAsync_CandidateBlobTampered_RefusesNamingLayerDigestWhileThePrimaryServesAlone()
    {
        var candidate = _agent.Release("2.0.0");
        var changed = candidate.ModelBytes.ToArray();
        changed[0] ^= 0x01;
        _agent.Registry.ServeBlob(candidate.OnnxDigest, changed);
        using var reconciler = _agent.NewReconciler();

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(1, _primary, TestAgent.Split(candidate)), CancellationToken.None);

        await AssertRefusedAsync(reconciler, outcome, candidate, VerificationChecks.LayerDigest);
    }

    [Fact]
    public async Task ReconcileAsync_CandidateManifestSignedByAStranger_RefusesNamingSignatureWhileThePrimaryServesAlone()
    {
        var stranger = _agent.Publisher.NewKey("someone else's key");
        var candidate = _agent.Publisher.Build("sensor-anomaly", "2.0.0", signers: [stranger]);
        _agent.Registry.Publish(candidate);
        _agent.Publisher.Approve(candidate);
        using var reconciler = _agent.NewReconciler();

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(1, _primary, TestAgent.Split(candidate)), CancellationToken.None);

        await AssertRefusedAsync(reconciler, outcome, candidate, VerificationChecks.Signature);
    }

    [Fact]
    public async Task ReconcileAsync_CandidateNotApprovedBySignedTargets_RefusesNamingTargetUnknownWithoutPulling()
    {
        var candidate = _agent.Publisher.Build("sensor-anomaly", "2.0.0");
        _agent.Registry.Publish(candidate);
        using var reconciler = _agent.NewReconciler();

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(1, _primary, TestAgent.Split(candidate)), CancellationToken.None);

        await AssertRefusedAsync(reconciler, outcome, candidate, TufChecks.TargetUnknown);
        Assert.DoesNotContain(candidate.Reference.ManifestDigest, _agent.Registry.ManifestPulls);
    }

    [Fact]
    public async Task ReconcileAsync_CandidateFailsToWarmUp_RefusesWithTheReasonWhileThePrimaryServesAlone()
    {
        var candidate = _agent.Release("2.0.0");
        using var reconciler = _agent.NewReconciler();
        _agent.Runtime.Port.StageAsync(Arg.Is<InstalledModel>(m => m.Reference == candidate.Reference), Arg.Any<CancellationToken>())
            .ThrowsAsync(new ModelStageException("input 'temperature' is missing from the graph"));

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(1, _primary, TestAgent.Split(candidate)), CancellationToken.None);

        Assert.False(outcome.Succeeded);
        Assert.Contains("input 'temperature' is missing from the graph", outcome.Error, StringComparison.Ordinal);
        Assert.Null(_agent.Runtime.Port.Candidate);
        Assert.Equal(_primary.Reference, _agent.Runtime.Port.Active?.Reference);
        Assert.Equal(ModelSlotStates.Failed, reconciler.BuildReport().Slots.Single(s => s.Slot == ModelSlots.Candidate).State);
    }

    [Fact]
    public async Task ReconcileAsync_SplitPercentOutOfRange_RefusesNamingTheFieldBeforeDownloading()
    {
        var candidate = _agent.Release("2.0.0");
        using var reconciler = _agent.NewReconciler();
        var pulls = _agent.Registry.Pulls;

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(1, _primary, TestAgent.Split(candidate, percent: 150)), CancellationToken.None);

        Assert.False(outcome.Succeeded);
        Assert.Contains("percent: 150 is not between 0 and 100", outcome.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(candidate.Reference.ManifestDigest, _agent.Registry.ManifestPulls);
        Assert.True(_agent.Registry.Pulls > pulls, "the primary is installed all the same");
        Assert.Equal(_primary.Reference, _agent.Runtime.Port.Active?.Reference);
        Assert.Null(_agent.Runtime.Port.Candidate);
    }

    [Fact]
    public async Task ReconcileAsync_RunningCandidateReplacedByATamperedOne_GoesBackToThePrimaryAlone()
    {
        var good = _agent.Release("2.0.0");
        var tampered = _agent.Release("3.0.0");
        var changed = tampered.ModelBytes.ToArray();
        changed[^1] ^= 0x01;
        _agent.Registry.ServeBlob(tampered.OnnxDigest, changed);
        using var reconciler = _agent.NewReconciler();
        Assert.True((await reconciler.ReconcileAsync(TestAgent.Desired(1, _primary, TestAgent.Split(good)), CancellationToken.None)).Succeeded);

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, _primary, TestAgent.Split(tampered)), CancellationToken.None);

        await AssertRefusedAsync(reconciler, outcome, tampered, VerificationChecks.LayerDigest);
    }

    [Fact]
    public async Task ReconcileAsync_DesiredStateDropsTheCandidate_DeactivatesItAndGoesBackToControlOnly()
    {
        var candidate = _agent.Release("2.0.0");
        using var reconciler = _agent.NewReconciler();
        Assert.True((await reconciler.ReconcileAsync(TestAgent.Desired(1, _primary, TestAgent.Split(candidate)), CancellationToken.None)).Succeeded);

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, _primary), CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.Error);
        _agent.Runtime.Port.Received(1).DeactivateCandidate();
        Assert.Null(_agent.Runtime.Port.Candidate);
        Assert.Null(_agent.Runtime.Arms);
        Assert.Equal(_primary.Reference, _agent.Runtime.Port.Active?.Reference);
        var slot = Assert.Single(reconciler.BuildReport().Slots);
        Assert.Equal((ModelSlots.Primary, ModelSlotStates.Active), (slot.Slot, slot.State));
        Assert.Null(_agent.SavedState().Candidate);
    }

    [Fact]
    public async Task ReconcileAsync_RolloutTakesTheDeviceToANewPrimary_CandidateIsRemovedAndTheNewPrimaryServes()
    {
        var candidate = _agent.Release("2.0.0");
        var next = _agent.Release("3.0.0");
        using var reconciler = _agent.NewReconciler();
        Assert.True((await reconciler.ReconcileAsync(TestAgent.Desired(1, _primary, TestAgent.Split(candidate)), CancellationToken.None)).Succeeded);

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, next), CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(next.Reference, _agent.Runtime.Port.Active?.Reference);
        Assert.Null(_agent.Runtime.Port.Candidate);
        Assert.Equal(next.Reference, _agent.SavedState().Active);
        Assert.Null(_agent.SavedState().Candidate);
    }

    [Fact]
    public async Task ReconcileAsync_SameCandidateWithANewSaltAndShare_ChangesTheArmsWithoutReinstalling()
    {
        var candidate = _agent.Release("2.0.0");
        using var reconciler = _agent.NewReconciler();
        Assert.True((await reconciler.ReconcileAsync(TestAgent.Desired(1, _primary, TestAgent.Split(candidate, 20, "salt-a")), CancellationToken.None)).Succeeded);
        var pulls = _agent.Registry.Pulls;
        var staged = _agent.Runtime.Staged.Count;
        var changed = TestAgent.Split(candidate, 50, "salt-b");

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, _primary, changed), CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal((pulls, staged), (_agent.Registry.Pulls, _agent.Runtime.Staged.Count));
        _agent.Runtime.Port.Received(1).SetCandidateArms(changed);
        Assert.Equal(changed, _agent.Runtime.Arms);
        Assert.Equal(changed, _agent.SavedState().Candidate?.Placement);
    }

    [Fact]
    public async Task ReconcileAsync_SameDocumentAgain_DoesNoWorkForAnActiveOrARefusedCandidate()
    {
        var good = _agent.Release("2.0.0");
        var unapproved = _agent.Publisher.Build("sensor-anomaly", "3.0.0");
        _agent.Registry.Publish(unapproved);
        using var reconciler = _agent.NewReconciler();
        var active = TestAgent.Desired(1, _primary, TestAgent.Split(good));
        Assert.True((await reconciler.ReconcileAsync(active, CancellationToken.None)).Succeeded);
        var pulls = _agent.Registry.Pulls;

        Assert.True((await reconciler.ReconcileAsync(active, CancellationToken.None)).Succeeded);

        Assert.Equal(pulls, _agent.Registry.Pulls);
        Assert.Equal(2, _agent.Runtime.Staged.Count);
        _agent.Runtime.Port.Received(1).ActivateCandidate(Arg.Any<IStagedModel>(), Arg.Any<ExperimentCandidate>());

        var refused = TestAgent.Desired(2, _primary, TestAgent.Split(unapproved));
        var first = await reconciler.ReconcileAsync(refused, CancellationToken.None);
        var requests = _agent.Publisher.Remote.Requests;
        pulls = _agent.Registry.Pulls;

        var again = await reconciler.ReconcileAsync(refused, CancellationToken.None);

        Assert.False(again.Succeeded);
        Assert.Equal(first.Error, again.Error);
        Assert.Contains($"{TufChecks.TargetUnknown} check failed", again.Error, StringComparison.Ordinal);
        Assert.Equal((requests, pulls), (_agent.Publisher.Remote.Requests, _agent.Registry.Pulls));
        Assert.Contains($"{TufChecks.TargetUnknown} check failed", reconciler.BuildReport().LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_CandidateInState_ResumesItFromDiskWithItsArmsWithoutRegistryOrMetadataServer()
    {
        var candidate = _agent.Release("2.0.0");
        var placement = TestAgent.Split(candidate, 25, "exp-resume");
        using (var first = _agent.NewReconciler())
        {
            Assert.True((await first.ReconcileAsync(TestAgent.Desired(1, _primary, placement), CancellationToken.None)).Succeeded);
        }

        var pulls = _agent.Registry.Pulls;
        _agent.Publisher.Remote.Offline = true;
        var restartedRuntime = new FakeRuntime();
        using var restarted = _agent.NewReconciler(restartedRuntime);

        await restarted.StartAsync(CancellationToken.None);
        try
        {
            await restarted.Started.WaitAsync(Patience);

            Assert.Equal(_primary.Reference, restartedRuntime.Port.Active?.Reference);
            Assert.Equal(candidate.Reference, restartedRuntime.Port.Candidate?.Reference);
            Assert.Equal(placement, restartedRuntime.Arms);
            Assert.Equal(pulls, _agent.Registry.Pulls);
            Assert.Equal(ModelSlotStates.Active, restarted.BuildReport().Slots.Single(s => s.Slot == ModelSlots.Candidate).State);

            // The retained desired state arrives again after the restart: nothing is redone.
            var outcome = await restarted.ReconcileAsync(TestAgent.Desired(1, _primary, placement), CancellationToken.None);
            Assert.True(outcome.Succeeded, outcome.Error);
            Assert.Equal(2, restartedRuntime.Staged.Count);
        }
        finally
        {
            await restarted.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task StartAsync_CandidateAlteredOnDisk_DoesNotActivateItAndReportsWhyWhileThePrimaryServes()
    {
        var candidate = _agent.Release("2.0.0");
        using (var first = _agent.NewReconciler())
        {
            Assert.True((await first.ReconcileAsync(TestAgent.Desired(1, _primary, TestAgent.Split(candidate)), CancellationToken.None)).Succeeded);
        }

        await Packages.PackageInstallerTests.FlipFirstByteAsync(new LocalModelStore(_agent.DataDirectory).PathOf(candidate.OnnxDigest));
        var restartedRuntime = new FakeRuntime();
        using var restarted = _agent.NewReconciler(restartedRuntime);

        await restarted.StartAsync(CancellationToken.None);
        try
        {
            await restarted.Started.WaitAsync(Patience);

            Assert.Equal(_primary.Reference, restartedRuntime.Port.Active?.Reference);
            Assert.Null(restartedRuntime.Port.Candidate);
            var report = restarted.BuildReport();
            Assert.Contains(VerificationChecks.LayerDigest, report.LastError, StringComparison.Ordinal);
            Assert.Equal(ModelSlotStates.Failed, report.Slots.Single(s => s.Slot == ModelSlots.Candidate).State);
        }
        finally
        {
            await restarted.StopAsync(CancellationToken.None);
        }
    }

    private async Task AssertRefusedAsync(Reconciler reconciler, ReconcileOutcome outcome, TestPackage refused, string check)
    {
        var named = $"{check} check failed";
        var port = _agent.Runtime.Port;

        Assert.False(outcome.Succeeded);
        Assert.Contains("candidate", outcome.Error, StringComparison.Ordinal);
        Assert.Contains(named, outcome.Error, StringComparison.Ordinal);
        await port.DidNotReceive().StageAsync(Arg.Is<InstalledModel>(m => m.Reference == refused.Reference), Arg.Any<CancellationToken>());
        port.DidNotReceive().ActivateCandidate(Arg.Is<IStagedModel>(s => s.Model.Reference == refused.Reference), Arg.Any<ExperimentCandidate>());
        Assert.Null(port.Candidate);
        Assert.Null(_agent.Runtime.Arms);
        Assert.Equal(_primary.Reference, port.Active?.Reference);

        var report = reconciler.BuildReport();
        Assert.Equal((_primary.Reference.ManifestDigest, ModelSlotStates.Active), report.Slots.Where(s => s.Slot == ModelSlots.Primary).Select(s => (s.ManifestDigest, s.State)).Single());
        var slot = report.Slots.Single(s => s.Slot == ModelSlots.Candidate);
        Assert.Equal((refused.Reference.ManifestDigest, ModelSlotStates.Failed), (slot.ManifestDigest, slot.State));
        Assert.Contains(named, report.LastError, StringComparison.Ordinal);
        Assert.DoesNotContain(report.Slots, s => s.Slot == ModelSlots.Incoming);

        var saved = _agent.SavedState();
        Assert.Equal(_primary.Reference, saved.Active);
        Assert.Equal(ModelSlotStates.Failed, saved.Candidate?.State);
        Assert.Contains(named, saved.Candidate?.Error, StringComparison.Ordinal);
        Assert.Contains(named, saved.LastError, StringComparison.Ordinal);
    }

    private List<ReportedState> CaptureReports()
    {
        var reports = new List<ReportedState>();
        _agent.Link.IsConnected.Returns(true);
        _agent.Link.PublishReportedAsync(Arg.Any<ReportedState>(), Arg.Any<CancellationToken>()).Returns(call =>
        {
            lock (reports)
            {
                reports.Add(call.Arg<ReportedState>());
            }

            return Task.CompletedTask;
        });
        return reports;
    }
}
