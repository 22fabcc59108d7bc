using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.Agent.Inference.Tests.Engine;

/// <summary>What the engine tells a scoring observer: every arm's runs and failures, shadow arms included.</summary>
[Collection(TestModelsGroup.Name)]
public sealed class ScoringObserverTests(TestModels models)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly RecordingSink _sink = new();
    private readonly RecordingObserver _observer = new();

    [Fact]
    public async Task Split_EachRunReportsItsArmRowsFeaturesAndIds_MatchingWhatTheSourceWasTold()
    {
        var engine = Engine();
        engine.Candidate.Activate(models.LoadScalar("2.0.0"));
        engine.SetArms(ArmPolicy.Split(50, EventFields.CorrelationId, "experiment-salt"));

        await ScoreAsync(engine, events: 100);

        foreach (var arm in new[] { Arms.Control, Arms.Candidate })
        {
            var runs = _observer.Runs.Where(r => r.Arm == arm).ToList();
            var told = _sink.Scored.Where(s => s.Scored.Arm == arm).Select(s => s.Scored.CorrelationId).Order().ToList();
            Assert.Equal(told, runs.SelectMany(r => r.Ids).Order());
            Assert.All(runs, r => Assert.Equal(r.Ids.Count * 3, r.FeatureValues));
            Assert.All(runs, r => Assert.Equal(r.Ids.Count, r.Latencies));
            Assert.All(runs, r => Assert.Equal(arm == Arms.Control ? "1.0.0" : "2.0.0", r.Version));
        }

        Assert.Empty(_observer.Failures);
    }

    [Fact]
    public async Task Shadow_CandidateThatCannotBindTheEvents_ReportsItsBindingFailuresOnTheCandidateArm()
    {
        var engine = Engine();
        // The candidate reads its first input from a field the events do not have.
        var card = models.ScalarCard with
        {
            Version = "2.0.0",
            Inputs = [models.ScalarCard.Inputs[0] with { Field = "humidity" }, .. models.ScalarCard.Inputs.Skip(1)],
        };
        engine.Candidate.Activate(LoadedModel.Load(card, models.ScalarModelPath, new OnnxModelSettings()));
        engine.SetArms(ArmPolicy.Shadow());

        await ScoreAsync(engine, events: 20);

        Assert.Equal(20, _sink.Scored.Count);
        Assert.Equal(20, _observer.Runs.Where(r => r.Arm == Arms.Control).Sum(r => r.Ids.Count));
        Assert.DoesNotContain(_observer.Runs, r => r.Arm == Arms.Candidate);
        Assert.Equal(20, _observer.Failures.Where(f => f == (Arms.Candidate, "2.0.0", EventOutcome.BindingFailed)).Count());
    }

    [Fact]
    public async Task Shadow_BothArmsScoreEveryEvent_ReportsTheCandidatesComparisonsAsTheEngineCountsThem()
    {
        var engine = Engine();
        engine.Candidate.Activate(models.LoadScalar("2.0.0"));
        engine.SetArms(ArmPolicy.Shadow());

        await ScoreAsync(engine, events: 40);

        var shadow = engine.Shadow;
        Assert.Equal(40, shadow.Compared);
        Assert.All(_observer.Comparisons, c => Assert.Equal((Arms.Candidate, "2.0.0"), (c.Arm, c.Version)));
        Assert.Equal(shadow.Compared, _observer.Comparisons.Sum(c => c.Compared));
        Assert.Equal(shadow.LabelAgreements, _observer.Comparisons.Sum(c => c.Agreements));
    }

    [Fact]
    public void TryEnqueue_QueueFullUnderReject_ReportsTheRefusedEventAsDroppedOnTheControl()
    {
        var engine = Engine(new InferenceEngineOptions { QueueCapacity = 2, QueueFullPolicy = QueueFullPolicy.Reject });

        var accepted = Enumerable.Range(0, 5).Count(i => engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[i], $"e{i}"), _sink)));

        Assert.Equal(2, accepted);
        Assert.Equal(3, _observer.Failures.Count(f => f == (Arms.Control, "1.0.0", EventOutcome.Dropped)));
    }

    private InferenceEngine Engine(InferenceEngineOptions? options = null)
    {
        var engine = new InferenceEngine(
            new ModelHost(NullLogger<ModelHost>.Instance),
            options ?? new InferenceEngineOptions { MaxQueueDelayMs = 0 },
            TimeProvider.System,
            NullLoggerFactory.Instance,
            _observer);
        engine.Control.Activate(models.LoadScalar("1.0.0"));
        return engine;
    }

    private async Task ScoreAsync(InferenceEngine engine, int events)
    {
        using var stop = new CancellationTokenSource();
        var running = engine.RunAsync(stop.Token);
        for (var i = 0; i < events; i++)
        {
            Assert.True(engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[i % models.TestRows.Count], $"e{i}"), _sink)));
        }

        await _sink.WaitForAsync(events, Patience);
        await stop.CancelAsync();
        await running.WaitAsync(Patience);
    }

    private sealed class RecordingObserver : IScoringObserver
    {
        private readonly Lock _gate = new();

        public List<(string Arm, string Version, List<string?> Ids, int FeatureValues, int Latencies)> Runs { get; } = [];

        public List<(string Arm, string Version, EventOutcome Outcome)> Failures { get; } = [];

        public List<(string Arm, string Version, int Compared, int Agreements)> Comparisons { get; } = [];

        public void OnScored(in ScoredRun run)
        {
            lock (_gate)
            {
                Runs.Add((run.Arm, run.Model.Identity.Version, [.. run.CorrelationIds], run.Features.Length, run.Latencies.Length));
            }
        }

        public void OnFailed(ScoringModel model, string arm, EventOutcome outcome, int events)
        {
            lock (_gate)
            {
                for (var i = 0; i < events; i++)
                {
                    Failures.Add((arm, model.Identity.Version, outcome));
                }
            }
        }

        public void OnCompared(ScoringModel model, string arm, int compared, int agreements)
        {
            lock (_gate)
            {
                Comparisons.Add((arm, model.Identity.Version, compared, agreements));
            }
        }
    }
}
