using EdgePlatform.Contracts;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Reconciliation;

namespace EdgePlatform.Agent.Core.Tests.Reconciliation;

/// <summary>The on-device health gate: a new version that errs is reverted by the agent alone.</summary>
public sealed class ProbationTests : IDisposable
{
    private static readonly ProbationOptions Options = new() { WindowSeconds = 300, CheckSeconds = 5, MinEvents = 20, MaxErrorRate = 0.5 };

    private readonly TestAgent _agent = new();
    private readonly FakeHealth _health = new();

    public void Dispose() => _agent.Dispose();

    [Fact]
    public async Task CheckProbationAsync_NewVersionErrs_RevertsToPreviousAndReportsWhy()
    {
        var (reconciler, v1, v2) = await ActivateSecondVersionAsync();

        _health.Add(scored: 5, errors: 25);
        _agent.Clock.Advance(TimeSpan.FromSeconds(30));
        var reverted = await reconciler.CheckProbationAsync(CancellationToken.None);

        Assert.True(reverted);
        Assert.Equal(v1.Reference, _agent.Runtime.Port.Active?.Reference);
        var saved = _agent.SavedState();
        Assert.Equal(v1.Reference, saved.Active);
        Assert.Equal(v2.Reference, saved.RevertedFrom);
        var report = reconciler.BuildReport();
        Assert.Equal(2, report.DesiredVersion);
        Assert.Equal(v1.Reference.ManifestDigest, report.Slots.Single(s => s.Slot == ModelSlots.Primary).ManifestDigest);
        var incoming = report.Slots.Single(s => s.Slot == ModelSlots.Incoming);
        Assert.Equal((v2.Reference.ManifestDigest, ModelSlotStates.Failed), (incoming.ManifestDigest, incoming.State));
        Assert.StartsWith("probation failed for sensor-anomaly:2.0.0: 25 of 30 events failed", report.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReconcileAsync_SameDesiredStateAfterRevert_DoesNotInstallItAgain()
    {
        var (reconciler, v1, v2) = await ActivateSecondVersionAsync();
        _health.Add(scored: 0, errors: 40);
        await reconciler.CheckProbationAsync(CancellationToken.None);
        var stagedBefore = _agent.Runtime.Staged.Count;

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, v2), CancellationToken.None);

        Assert.False(outcome.Succeeded);
        Assert.Equal(stagedBefore, _agent.Runtime.Staged.Count);
        Assert.Equal(v1.Reference, _agent.Runtime.Port.Active?.Reference);
    }

    [Fact]
    public async Task ReconcileAsync_NewerDesiredStateForTheRevertedVersion_InstallsItAgain()
    {
        var (reconciler, _, v2) = await ActivateSecondVersionAsync();
        _health.Add(scored: 0, errors: 40);
        await reconciler.CheckProbationAsync(CancellationToken.None);

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(3, v2), CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(v2.Reference, _agent.Runtime.Port.Active?.Reference);
    }

    [Fact]
    public async Task CheckProbationAsync_FewerEventsThanMinimum_KeepsTheNewVersion()
    {
        var (reconciler, _, v2) = await ActivateSecondVersionAsync();

        _health.Add(scored: 0, errors: 19);
        var reverted = await reconciler.CheckProbationAsync(CancellationToken.None);

        Assert.False(reverted);
        Assert.Equal(v2.Reference, _agent.Runtime.Port.Active?.Reference);
    }

    [Fact]
    public async Task CheckProbationAsync_ErrorsAfterTheWindowPassed_KeepsTheNewVersion()
    {
        var (reconciler, _, v2) = await ActivateSecondVersionAsync();
        _health.Add(scored: 100, errors: 1);
        _agent.Clock.Advance(TimeSpan.FromSeconds(Options.WindowSeconds));
        Assert.False(await reconciler.CheckProbationAsync(CancellationToken.None));

        _health.Add(scored: 0, errors: 500);
        var reverted = await reconciler.CheckProbationAsync(CancellationToken.None);

        Assert.False(reverted);
        Assert.Equal(v2.Reference, _agent.Runtime.Port.Active?.Reference);
    }

    [Fact]
    public async Task CheckProbationAsync_ErrorsBeforeTheSwap_AreNotCountedAgainstTheNewVersion()
    {
        var v1 = _agent.Release("1.0.0");
        var v2 = _agent.Release("2.0.0");
        using var reconciler = _agent.NewReconciler(health: _health, probation: Options);
        await reconciler.ReconcileAsync(TestAgent.Desired(1, v1), CancellationToken.None);
        _health.Add(scored: 0, errors: 1000);

        await reconciler.ReconcileAsync(TestAgent.Desired(2, v2), CancellationToken.None);
        _health.Add(scored: 30, errors: 0);

        Assert.False(await reconciler.CheckProbationAsync(CancellationToken.None));
    }

    private async Task<(Reconciler Reconciler, TestPackage V1, TestPackage V2)> ActivateSecondVersionAsync()
    {
        var v1 = _agent.Release("1.0.0");
        var v2 = _agent.Release("2.0.0");
        var reconciler = _agent.NewReconciler(health: _health, probation: Options);
        Assert.True((await reconciler.ReconcileAsync(TestAgent.Desired(1, v1), CancellationToken.None)).Succeeded);
        Assert.True((await reconciler.ReconcileAsync(TestAgent.Desired(2, v2), CancellationToken.None)).Succeeded);
        Assert.Equal(v2.Reference, _agent.Runtime.Port.Active?.Reference);
        return (reconciler, v1, v2);
    }

    private sealed class FakeHealth : IModelHealth
    {
        private ModelHealthSample _sample;

        public void Add(long scored, long errors) => _sample = new(_sample.Scored + scored, _sample.Errors + errors);

        public ModelHealthSample Read() => _sample;
    }
}
