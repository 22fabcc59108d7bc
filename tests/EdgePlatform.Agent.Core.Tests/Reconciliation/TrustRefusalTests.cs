using EdgePlatform.Agent.Core.Packages;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Reconciliation;
using EdgePlatform.Contracts;
using EdgePlatform.Security;
using EdgePlatform.Security.Tuf;
using NSubstitute;

namespace EdgePlatform.Agent.Core.Tests.Reconciliation;

/// <summary>
/// The attacks the trust design names, each made against a device already serving a good model:
/// the agent must refuse the new one, say which check failed, and keep serving what it had.
/// </summary>
public sealed class TrustRefusalTests : IDisposable
{
    private TestAgent _agent = new();

    /// <summary>The release the device serves before each attack.</summary>
    private TestPackage? _current;

    /// <summary>The runtime of the agent process under attack (a fresh one after a restart).</summary>
    private FakeRuntime? _runtimeInUse;

    /// <summary>Metadata that still approved a release that was revoked since.</summary>
    private MetadataSnapshot? _beforeRevocation;

    public void Dispose() => _agent.Dispose();

    // 1. Arbitrary package: the digest or size differ from the signed targets.

    [Fact]
    public async Task ReconcileAsync_ManifestNotTheOneTargetsApprove_RefusesTargetDigestWithoutPulling()
    {
        using var reconciler = await ServingAsync();
        _agent.Release("2.0.0");
        var substitute = _agent.Publisher.Build("sensor-anomaly", "2.0.0", graph: "a graph nobody approved");
        _agent.Registry.Publish(substitute);

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, substitute), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, substitute.Reference, TufChecks.TargetDigest);
        Assert.DoesNotContain(substitute.Reference.ManifestDigest, _agent.Registry.ManifestPulls);
    }

    [Fact]
    public async Task ReconcileAsync_ManifestSizeNotTheOneTargetsApprove_RefusesTargetLength()
    {
        using var reconciler = await ServingAsync();
        var next = _agent.Release("2.0.0");
        var resized = next.Reference with { ManifestSize = next.Reference.ManifestSize + 1 };

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, resized), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, resized, TufChecks.TargetLength);
    }

    // 2. Key compromise below threshold.

    [Fact]
    public async Task ReconcileAsync_TargetsSignedByUntrustedKey_RefusesTargetsSignature()
    {
        using var reconciler = await ServingAsync();
        var attacker = _agent.Publisher.NewKey("attacker");
        var evil = Offered("2.0.0", signers: [attacker]);
        _agent.Publisher.ServeForgedTargets(_agent.Publisher.ForgeTargets([attacker], TestPublisher.With(evil.Release, TestPublisher.Entry(evil))));

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, evil), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, evil.Reference, TufChecks.TargetsSignature);
    }

    [Fact]
    public async Task ReconcileAsync_TargetsSignedByOneKeyOfTwoRequired_RefusesTargetsSignature()
    {
        UseThreshold(keys: 2, threshold: 2);
        using var reconciler = await ServingAsync();
        var stolen = _agent.Publisher.TargetsKeys[0];
        var evil = Offered("2.0.0", signers: [stolen]);
        _agent.Publisher.ServeForgedTargets(_agent.Publisher.ForgeTargets([stolen], TestPublisher.With(evil.Release, TestPublisher.Entry(evil))));

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, evil), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, evil.Reference, TufChecks.TargetsSignature);
        Assert.Contains("1 valid signature(s)", outcome.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReconcileAsync_TargetsCarryingOneKeysSignatureTwiceOfTwoRequired_RefusesTargetsSignature()
    {
        UseThreshold(keys: 2, threshold: 2);
        using var reconciler = await ServingAsync();
        var stolen = _agent.Publisher.TargetsKeys[0];
        var evil = Offered("2.0.0", signers: [stolen]);
        var forged = _agent.Publisher.ForgeTargets(
            [stolen],
            TestPublisher.With(evil.Release, TestPublisher.Entry(evil)),
            envelope => envelope with { Signatures = [envelope.Signatures[0], envelope.Signatures[0]] });
        _agent.Publisher.ServeForgedTargets(forged);

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, evil), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, evil.Reference, TufChecks.TargetsSignature);
    }

    [Fact]
    public async Task ReconcileAsync_TargetsWithOneKeysSignatureClaimedForTheOtherKey_RefusesTargetsSignature()
    {
        UseThreshold(keys: 2, threshold: 2);
        using var reconciler = await ServingAsync();
        var stolen = _agent.Publisher.TargetsKeys[0];
        var other = _agent.Publisher.TargetsKeys[1];
        var evil = Offered("2.0.0", signers: [stolen]);
        var forged = _agent.Publisher.ForgeTargets(
            [stolen],
            TestPublisher.With(evil.Release, TestPublisher.Entry(evil)),
            envelope => envelope with { Signatures = [envelope.Signatures[0], envelope.Signatures[0] with { KeyId = other.KeyId }] });
        _agent.Publisher.ServeForgedTargets(forged);

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, evil), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, evil.Reference, TufChecks.TargetsSignature);
    }

    // 3. Rollback, also across a restart of the agent.

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReconcileAsync_TimestampOlderThanSeen_RefusesTimestampRollback(bool restart)
    {
        var (reconciler, revoked) = await ServingAfterRevocationAsync(restart);
        using (reconciler)
        {
            _agent.Publisher.Remote.Serve(_beforeRevocation!);

            var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(3, revoked), CancellationToken.None);

            await AssertKeptCurrentAsync(reconciler, outcome, revoked.Reference, TufChecks.TimestampRollback, _runtimeInUse);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReconcileAsync_FreshTimestampNamingOlderTargets_RefusesTargetsRollback(bool restart)
    {
        var (reconciler, revoked) = await ServingAfterRevocationAsync(restart);
        using (reconciler)
        {
            // The timestamp key is online and the likeliest to leak; it cannot bring old targets back.
            _agent.Publisher.ServeForgedTargets(_beforeRevocation!.Targets);

            var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(3, revoked), CancellationToken.None);

            await AssertKeptCurrentAsync(reconciler, outcome, revoked.Reference, TufChecks.TargetsRollback, _runtimeInUse);
        }
    }

    // 4. Freeze.

    [Fact]
    public async Task ReconcileAsync_TimestampExpiredByTheDeviceClock_RefusesTimestampExpired()
    {
        using var reconciler = await ServingAsync();
        var next = _agent.Release("2.0.0");
        _agent.Clock.Advance(TestPublisher.TimestampLifetime + TimeSpan.FromSeconds(1));

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, next), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, next.Reference, TufChecks.TimestampExpired);
    }

    [Fact]
    public async Task ReconcileAsync_TimestampReSignedAfterExpiry_InstallsTheRelease()
    {
        using var reconciler = await ServingAsync();
        var next = _agent.Release("2.0.0");
        _agent.Clock.Advance(TestPublisher.TimestampLifetime + TimeSpan.FromSeconds(1));
        Assert.False((await reconciler.ReconcileAsync(TestAgent.Desired(2, next), CancellationToken.None)).Succeeded);
        _agent.Publisher.Tuf.RefreshTimestamp([_agent.Publisher.TimestampKey], TestPublisher.TimestampLifetime, _agent.Clock.GetUtcNow());

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(3, next), CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(next.Reference.ManifestDigest, Assert.Single(reconciler.BuildReport().Slots).ManifestDigest);
    }

    [Fact]
    public async Task ReconcileAsync_TargetsExpiredUnderFreshTimestamp_RefusesTargetsExpired()
    {
        using var reconciler = await ServingAsync();
        var next = _agent.Release("2.0.0");
        _agent.Clock.Advance(TestPublisher.TargetsLifetime + TimeSpan.FromSeconds(1));
        _agent.Publisher.Tuf.RefreshTimestamp([_agent.Publisher.TimestampKey], TestPublisher.TimestampLifetime, _agent.Clock.GetUtcNow());

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, next), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, next.Reference, TufChecks.TargetsExpired);
    }

    // 5. Mix and match.

    [Fact]
    public async Task ReconcileAsync_ManifestServedWithAnotherReleasesModelLayer_RefusesLayerDigest()
    {
        using var reconciler = await ServingAsync();
        var next = _agent.Release("2.0.0");
        var other = _agent.Release("3.0.0");
        Assert.Equal(next.ModelBytes.Length, other.ModelBytes.Length);
        _agent.Registry.ServeBlob(next.OnnxDigest, other.ModelBytes);

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, next), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, next.Reference, VerificationChecks.LayerDigest);
        Assert.False(new LocalModelStore(_agent.DataDirectory).Contains(next.OnnxDigest));
    }

    [Fact]
    public async Task ReconcileAsync_TargetsNotTheOneTheTimestampNames_RefusesTargetsHash()
    {
        using var reconciler = await ServingAsync();
        var older = _agent.Publisher.Snapshot();
        var next = _agent.Release("2.0.0");
        _agent.Publisher.Remote.Targets = older.Targets;

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, next), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, next.Reference, TufChecks.TargetsHash);
    }

    // 6. Endless data.

    [Fact]
    public async Task ReconcileAsync_ModelLayerServedEndlessly_RefusesLayerSizeReadingAtMostOneBytePastSignedSize()
    {
        using var reconciler = await ServingAsync();
        var next = _agent.Release("2.0.0");
        var endless = new EndlessStream();
        _agent.Registry.ServeBlob(next.OnnxDigest, () => endless);

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, next), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, next.Reference, VerificationChecks.LayerSize);
        Assert.Equal(next.Manifest.Layers[0].Size + 1, endless.BytesRead);
    }

    // 7. Root rotation.

    [Fact]
    public async Task ReconcileAsync_RootRotatedWithOldRootsSignature_InstallsReleaseApprovedByNewTargetsKey()
    {
        using var reconciler = await ServingAsync();
        var trust = _agent.Publisher.NewDeviceTrust(_agent.DataDirectory);
        var newTargets = _agent.Publisher.NewKey("targets-2025");
        _agent.Publisher.Rotate(_agent.Publisher.NewKey("root-2025"), [newTargets]);
        var next = _agent.Release("2.0.0");

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, next), CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.Error);
        _agent.Runtime.Port.Received(1).Activate(Arg.Is<IStagedModel>(s => s.Model.Reference == next.Reference));
        Assert.Equal(next.Reference.ManifestDigest, Assert.Single(reconciler.BuildReport().Slots).ManifestDigest);
        var root = await trust.TrustedRootAsync(CancellationToken.None);
        Assert.Equal(2, root.Version);
        Assert.Equal([newTargets.KeyId], root.Roles[TufRoles.Targets].KeyIds);
    }

    [Fact]
    public async Task ReconcileAsync_NextRootNotSignedByOldRootKey_RefusesRootSignature()
    {
        using var reconciler = await ServingAsync();
        var trust = _agent.Publisher.NewDeviceTrust(_agent.DataDirectory);
        var attackerRoot = _agent.Publisher.NewKey("attacker root");
        var attackerTargets = _agent.Publisher.NewKey("attacker targets");
        _agent.Publisher.Remote.Roots[2] = _agent.Publisher.SignRoot(2, attackerRoot, [attackerTargets], 1, [attackerRoot]);
        var evil = Offered("2.0.0", signers: [attackerTargets]);
        _agent.Publisher.ServeForgedTargets(_agent.Publisher.ForgeTargets([attackerTargets], TestPublisher.With(evil.Release, TestPublisher.Entry(evil))));

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, evil), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, evil.Reference, TufChecks.RootSignature);
        Assert.Equal(1, (await trust.TrustedRootAsync(CancellationToken.None)).Version);
    }

    [Fact]
    public async Task ReconcileAsync_TargetsSignedByTargetsKeyRotatedOut_RefusesTargetsSignature()
    {
        using var reconciler = await ServingAsync();
        var retired = _agent.Publisher.TargetsKeys[0];
        _agent.Publisher.Rotate(_agent.Publisher.RootKey, [_agent.Publisher.NewKey("targets-2025")]);
        var evil = Offered("2.0.0", signers: [retired]);
        _agent.Publisher.ServeForgedTargets(_agent.Publisher.ForgeTargets([retired], TestPublisher.With(evil.Release, TestPublisher.Entry(evil))));

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, evil), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, evil.Reference, TufChecks.TargetsSignature);
    }

    [Fact]
    public async Task ReconcileAsync_ApprovedManifestSignedByTargetsKeyRotatedOut_RefusesSignature()
    {
        using var reconciler = await ServingAsync();
        var retired = _agent.Publisher.TargetsKeys[0];
        _agent.Publisher.Rotate(_agent.Publisher.RootKey, [_agent.Publisher.NewKey("targets-2025")]);
        var stale = Offered("2.0.0", signers: [retired]);
        _agent.Publisher.Approve(stale);

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, stale), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, stale.Reference, VerificationChecks.Signature);
    }

    [Fact]
    public async Task StartAsync_AfterTargetsKeyRotation_ResumesTheActiveModel()
    {
        using (await ServingAsync())
        {
            _agent.Publisher.Rotate(_agent.Publisher.RootKey, [_agent.Publisher.NewKey("targets-2025")]);

            // Any refresh after the rotation (a later deployment, even a refused one) moves the device to the new root.
            await _agent.Publisher.NewDeviceTrust(_agent.DataDirectory).RefreshAsync(CancellationToken.None);
        }

        var restartedRuntime = new FakeRuntime();
        using var restarted = _agent.NewReconciler(restartedRuntime);
        await restarted.StartAsync(CancellationToken.None);
        try
        {
            await restarted.Started.WaitAsync(TestAgent.Patience);

            Assert.Null(restarted.BuildReport().LastError);
            restartedRuntime.Port.Received(1).Activate(Arg.Is<IStagedModel>(s => s.Model.Reference == _current!.Reference));
        }
        finally
        {
            await restarted.StopAsync(CancellationToken.None);
        }
    }

    // 8. Wrong software.

    [Fact]
    public async Task ReconcileAsync_ReleaseApprovedOnlyForAnotherChannel_RefusesTargetChannel()
    {
        using var reconciler = await ServingAsync();
        var staging = _agent.Release("2.0.0", "sensor-anomaly", "staging");

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, staging), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, staging.Reference, TufChecks.TargetChannel);
        Assert.Contains("'production'", outcome.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReconcileAsync_ReleaseApprovedForTheDevicesChannel_Installs()
    {
        var staging = _agent.Release("2.0.0", "sensor-anomaly", "staging");
        using var reconciler = _agent.NewReconciler(channel: "staging");

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(1, staging), CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(staging.Reference, _agent.Runtime.Port.Active?.Reference);
    }

    [Fact]
    public async Task ReconcileAsync_ApprovedModelNamedWithAnotherModelsDigest_RefusesTargetDigest()
    {
        using var reconciler = await ServingAsync();
        var sensor = _agent.Release("2.0.0");
        _agent.Release("1.0.0", "vibration-anomaly");
        var mislabelled = sensor.Reference with { Name = "vibration-anomaly", Version = "1.0.0" };

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, mislabelled), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, mislabelled, TufChecks.TargetDigest);
    }

    [Fact]
    public async Task ReconcileAsync_UnapprovedModelNamedWithAnotherModelsDigest_RefusesTargetUnknown()
    {
        using var reconciler = await ServingAsync();
        var sensor = _agent.Release("2.0.0");
        var mislabelled = sensor.Reference with { Name = "vibration-anomaly", Version = "1.0.0" };

        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(2, mislabelled), CancellationToken.None);

        await AssertKeptCurrentAsync(reconciler, outcome, mislabelled, TufChecks.TargetUnknown);
    }

    /// <summary>A reconciler that has installed and activates release 1.0.0 (desired version 1).</summary>
    private async Task<Reconciler> ServingAsync()
    {
        _current = _agent.Release("1.0.0");
        _runtimeInUse = _agent.Runtime;
        var reconciler = _agent.NewReconciler();
        var outcome = await reconciler.ReconcileAsync(TestAgent.Desired(1, _current), CancellationToken.None);
        Assert.True(outcome.Succeeded, outcome.Error);
        return reconciler;
    }

    /// <summary>
    /// Release 1.5.0 approved, then revoked while 2.0.0 was approved and installed: the device has
    /// seen the newer metadata, and the older metadata (still approving 1.5.0) is kept for replay.
    /// With <paramref name="restart"/>, the reconciler returned is a fresh agent process that resumed.
    /// </summary>
    private async Task<(Reconciler Reconciler, TestPackage Revoked)> ServingAfterRevocationAsync(bool restart)
    {
        var revoked = _agent.Release("1.5.0");
        _beforeRevocation = _agent.Publisher.Snapshot();
        _agent.Publisher.Publish(TestPublisher.Without(revoked.Release));
        _current = _agent.Release("2.0.0");
        _runtimeInUse = _agent.Runtime;
        var reconciler = _agent.NewReconciler();
        Assert.True((await reconciler.ReconcileAsync(TestAgent.Desired(2, _current), CancellationToken.None)).Succeeded);
        if (!restart)
        {
            return (reconciler, revoked);
        }

        reconciler.Dispose();
        _runtimeInUse = new FakeRuntime();
        var restarted = _agent.NewReconciler(_runtimeInUse);
        await restarted.StartAsync(CancellationToken.None);
        await restarted.Started.WaitAsync(TestAgent.Patience);
        await restarted.StopAsync(CancellationToken.None);
        Assert.Equal(_current.Reference, _runtimeInUse.Port.Active?.Reference);
        return (restarted, revoked);
    }

    /// <summary>A package put in the registry, without any approval.</summary>
    private TestPackage Offered(string version, IReadOnlyList<TufSigningKey> signers)
    {
        var package = _agent.Publisher.Build("sensor-anomaly", version, signers: signers);
        _agent.Registry.Publish(package);
        return package;
    }

    private void UseThreshold(int keys, int threshold)
    {
        _agent.Dispose();
        _agent = new TestAgent(keys, threshold);
    }

    /// <summary>Refused naming <paramref name="check"/>, nothing of the refused package ran, and the current model still serves and is reported.</summary>
    private async Task AssertKeptCurrentAsync(Reconciler reconciler, ReconcileOutcome outcome, ModelReference refused, string check, FakeRuntime? runtime = null)
    {
        var current = _current!.Reference;
        var port = (runtime ?? _agent.Runtime).Port;
        var named = $"{check} check failed";

        Assert.False(outcome.Succeeded);
        Assert.Contains(named, outcome.Error, StringComparison.Ordinal);
        await port.DidNotReceive().StageAsync(Arg.Is<InstalledModel>(m => m.Reference == refused), Arg.Any<CancellationToken>());
        port.DidNotReceive().Activate(Arg.Is<IStagedModel>(s => s.Model.Reference == refused));
        Assert.Equal(current, port.Active?.Reference);

        var report = reconciler.BuildReport();
        Assert.Equal(current.ManifestDigest, report.Slots.Single(s => s.Slot == ModelSlots.Primary).ManifestDigest);
        var incoming = report.Slots.Single(s => s.Slot == ModelSlots.Incoming);
        Assert.Equal((refused.ManifestDigest, ModelSlotStates.Failed), (incoming.ManifestDigest, incoming.State));
        Assert.Contains(named, report.LastError, StringComparison.Ordinal);
        Assert.Equal(outcome.DesiredVersion, report.DesiredVersion);

        var saved = _agent.SavedState();
        Assert.Equal(current, saved.Active);
        Assert.Contains(named, saved.LastError, StringComparison.Ordinal);
    }
}
