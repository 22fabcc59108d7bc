using System.Collections.Concurrent;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Agent.Inference.Tests;
using EdgePlatform.Agent.Runtime;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Tests.Runtime;

/// <summary>The runtime port over the real engine: an experiment's candidate arm staged, activated, changed and removed.</summary>
[Collection(TestModelsGroup.Name)]
public sealed class OnnxModelRuntimeTests(TestModels models)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ActivateCandidate_SplitPlacement_EachEventScoredOnTheArmItsSaltedBucketNames()
    {
        const string Salt = "exp-7f3a";
        const int Events = 400;
        var (engine, runtime) = await ServingAsync();
        runtime.ActivateCandidate(await StageAsync(runtime, "2.0.0"), Placement(ExperimentModes.Split, 30, Salt));
        var sink = new ArmSink();

        await ScoreAsync(engine, sink, Events);

        Assert.Equal(Events, sink.Arms.Count);
        foreach (var (id, arm) in sink.Arms)
        {
            var expected = ArmBuckets.Bucket(id, Salt) >= ArmBuckets.Count - 3_000 ? Arms.Candidate : Arms.Control;
            Assert.Equal(expected, arm.Arm);
            Assert.Equal(expected == Arms.Candidate ? "2.0.0" : "1.0.0", arm.Version);
        }

        Assert.InRange(sink.Arms.Values.Count(a => a.Arm == Arms.Candidate), Events / 10, Events / 2);
        Assert.Equal("2.0.0", runtime.Candidate?.Reference.Version);
    }

    [Fact]
    public async Task SetCandidateArms_AnotherSalt_ReshufflesWithoutReloadingTheCandidate()
    {
        var (engine, runtime) = await ServingAsync();
        runtime.ActivateCandidate(await StageAsync(runtime, "2.0.0"), Placement(ExperimentModes.Split, 50, "salt-a"));
        var loaded = engine.Candidate.Active;

        runtime.SetCandidateArms(Placement(ExperimentModes.Shadow, 0, "salt-b"));

        Assert.Equal(ArmMode.Shadow, engine.Arms.Mode);
        Assert.Same(loaded, engine.Candidate.Active);
        runtime.SetCandidateArms(Placement(ExperimentModes.Split, 50, "salt-b"));
        Assert.Equal((ArmMode.Split, "salt-b"), (engine.Arms.Mode, engine.Arms.Salt));
    }

    [Fact]
    public async Task DeactivateCandidate_AfterASplit_ControlScoresEveryEventAlone()
    {
        var (engine, runtime) = await ServingAsync();
        runtime.ActivateCandidate(await StageAsync(runtime, "2.0.0"), Placement(ExperimentModes.Split, 100, "salt"));

        runtime.DeactivateCandidate();
        var sink = new ArmSink();
        await ScoreAsync(engine, sink, 50);

        Assert.Same(ArmPolicy.ControlOnly, engine.Arms);
        Assert.Null(engine.Candidate.Active);
        Assert.Null(runtime.Candidate);
        Assert.All(sink.Arms.Values, arm => Assert.Equal((Arms.Control, "1.0.0"), arm));
    }

    private async Task<(InferenceEngine Engine, OnnxModelRuntime Runtime)> ServingAsync()
    {
        var engine = new InferenceEngine(
            new ModelHost(NullLogger<ModelHost>.Instance), new InferenceEngineOptions { MaxQueueDelayMs = 1 }, TimeProvider.System, NullLoggerFactory.Instance);
        var runtime = new OnnxModelRuntime(engine, Options.Create(new OnnxModelSettings()), NullLoggerFactory.Instance, TimeProvider.System);
        runtime.Activate(await StageAsync(runtime, "1.0.0"));
        return (engine, runtime);
    }

    private Task<IStagedModel> StageAsync(OnnxModelRuntime runtime, string version)
    {
        var card = models.ScalarCard with { Version = version };
        var reference = new ModelReference("models/pump-failure", card.Name, version, $"sha256:{new string(version[0], 64)}", 100, "signature");
        return runtime.StageAsync(new InstalledModel(reference, card, models.ScalarModelPath), CancellationToken.None);
    }

    private static ExperimentCandidate Placement(string mode, double percent, string salt) =>
        new("treatment", new ModelReference("models/pump-failure", "pump-failure", "2.0.0", "sha256:2", 100, "signature"), mode, percent, EventFields.CorrelationId, salt);

    private async Task ScoreAsync(InferenceEngine engine, ArmSink sink, int events)
    {
        using var stop = new CancellationTokenSource();
        var run = engine.RunAsync(stop.Token);
        for (var i = 0; i < events; i++)
        {
            Assert.True(engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[i % models.TestRows.Count], $"event-{i}"), sink)));
        }

        await sink.WaitForAsync(events).WaitAsync(Patience);
        await stop.CancelAsync();
        await run.WaitAsync(Patience);
    }

    /// <summary>The arm and version that scored each event, by its correlation id.</summary>
    private sealed class ArmSink : IInferenceSink
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _expected = int.MaxValue;
        private int _ended;

        public ConcurrentDictionary<string, (string Arm, string Version)> Arms { get; } = new(StringComparer.Ordinal);

        public Task WaitForAsync(int events)
        {
            Volatile.Write(ref _expected, events);
            if (Volatile.Read(ref _ended) >= events)
            {
                _done.TrySetResult();
            }

            return _done.Task;
        }

        public void OnScored(in InferenceEvent inferenceEvent, in ScoredEvent scored)
        {
            Arms[scored.CorrelationId!] = (scored.Arm, scored.Model.Version);
            Ended();
        }

        public void OnFailed(in InferenceEvent inferenceEvent, EventOutcome outcome, string reason) =>
            _done.TrySetException(new InvalidOperationException($"an event failed: {outcome} {reason}"));

        private void Ended()
        {
            if (Interlocked.Increment(ref _ended) >= Volatile.Read(ref _expected))
            {
                _done.TrySetResult();
            }
        }
    }
}
