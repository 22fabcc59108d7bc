using EdgePlatform.Agent.Core.Telemetry;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Agent.Inference.Tests;
using EdgePlatform.Agent.Scoring;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Tests.Scoring;

/// <summary>The engine's runs reaching per-version telemetry: one perf and quality row per version and arm, with exact counts.</summary>
[Collection(TestModelsGroup.Name)]
public sealed class ScoringTelemetryTests(TestModels models)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly ScoringMetrics _metrics = new(featureSampleRate: 1);

    [Fact]
    public async Task Split_EachArmsEvents_EndUpInTheirOwnPerfRowWithExactCounts()
    {
        var sink = new CountingSink();
        await ScoreAsync(ArmPolicy.Split(40, EventFields.CorrelationId), sink, events: 300);

        var rows = _metrics.TakeModelIntervals(DateTimeOffset.UtcNow, 10_000).ToDictionary(r => r.Perf.Arm);

        Assert.Equal(2, rows.Count);
        var control = rows[Arms.Control].Perf;
        var candidate = rows[Arms.Candidate].Perf;
        Assert.Equal(("pump-failure", "1.0.0", "2.0.0"), (control.ModelName, control.ModelVersion, candidate.ModelVersion));
        Assert.Equal(sink.ScoredBy(Arms.Control), control.EventsScored);
        Assert.Equal(sink.ScoredBy(Arms.Candidate), candidate.EventsScored);
        Assert.Equal(300, control.EventsScored + candidate.EventsScored);
        Assert.InRange(candidate.EventsScored, 60, 180);
        Assert.Equal((control.EventsScored, candidate.EventsScored), (control.EventsIn, candidate.EventsIn));
        Assert.Equal(control.EventsScored, rows[Arms.Control].Quality.Scores);
        Assert.Equal(candidate.EventsScored, rows[Arms.Candidate].Quality.FeatureCount[0]);
        Assert.Equal(control.Batches, control.BatchSizeHistogram.Sum());
    }

    [Fact]
    public async Task Shadow_BothArmsScoreEveryEvent_EachInItsOwnRow()
    {
        var sink = new CountingSink();
        await ScoreAsync(ArmPolicy.Shadow(), sink, events: 200);

        var rows = _metrics.TakeModelIntervals(DateTimeOffset.UtcNow, 10_000).ToDictionary(r => r.Perf.Arm);

        Assert.Equal(200, sink.ScoredBy(Arms.Control));
        Assert.Equal(0, sink.ScoredBy(Arms.Candidate));
        Assert.Equal((200L, 200L), (rows[Arms.Control].Perf.EventsScored, rows[Arms.Candidate].Perf.EventsScored));
        Assert.Equal((200L, 200L), (rows[Arms.Control].Quality.Scores, rows[Arms.Candidate].Quality.Scores));
        Assert.Equal("2.0.0", rows[Arms.Candidate].Perf.ModelVersion);
        Assert.Equal((200L, 0L), (rows[Arms.Candidate].Quality.Compared, rows[Arms.Control].Quality.Compared));
        Assert.InRange(rows[Arms.Candidate].Quality.Agreements, 0, 200);
    }

    [Fact]
    public async Task Shadow_Feedback_LabelsThePredictionsOfBothArms()
    {
        var feedback = new FeedbackRecorder(_metrics, Options.Create(new FeedbackOptions()), TimeProvider.System);
        var sink = new CountingSink();
        await ScoreAsync(ArmPolicy.Shadow(), sink, events: 10, feedback);

        var result = feedback.Record("{\"id\":\"e3\",\"label\":true}"u8);

        Assert.Equal((FeedbackOutcome.Matched, 2), (result.Outcome, result.Predictions));
        var rows = _metrics.TakeModelIntervals(DateTimeOffset.UtcNow, 10_000).ToDictionary(r => r.Quality.Arm);
        Assert.Equal((1L, 1L), (rows[Arms.Control].Quality.Labelled, rows[Arms.Candidate].Quality.Labelled));
        Assert.Equal((1L, 0L), (rows[Arms.Candidate].Quality.Paired, rows[Arms.Control].Quality.Paired));
    }

    [Fact]
    public async Task FullQueue_DroppedEvents_CountAgainstTheControlVersion()
    {
        var engine = Engine(new InferenceEngineOptions { QueueCapacity = 4, QueueFullPolicy = QueueFullPolicy.DropOldest });
        var sink = new CountingSink();
        for (var i = 0; i < 10; i++)
        {
            Assert.True(engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[i], $"e{i}"), sink)));
        }

        using var stop = new CancellationTokenSource();
        var run = engine.RunAsync(stop.Token);
        await sink.WaitForAsync(10).WaitAsync(Patience);
        await stop.CancelAsync();
        await run.WaitAsync(Patience);

        var perf = Assert.Single(_metrics.TakeModelIntervals(DateTimeOffset.UtcNow, 10_000)).Perf;
        Assert.Equal((10L, 4L, 6L, Arms.Control), (perf.EventsIn, perf.EventsScored, perf.Dropped, perf.Arm));
    }

    private async Task ScoreAsync(ArmPolicy policy, CountingSink sink, int events, FeedbackRecorder? feedback = null)
    {
        var engine = Engine(new InferenceEngineOptions { MaxQueueDelayMs = 1 }, feedback);
        engine.Candidate.Activate(models.LoadScalar("2.0.0"));
        engine.SetArms(policy);
        using var stop = new CancellationTokenSource();
        var run = engine.RunAsync(stop.Token);
        for (var i = 0; i < events; i++)
        {
            Assert.True(engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[i % models.TestRows.Count], $"e{i}"), sink)));
        }

        await sink.WaitForAsync(events).WaitAsync(Patience);
        await stop.CancelAsync();
        await run.WaitAsync(Patience);
    }

    private InferenceEngine Engine(InferenceEngineOptions options, FeedbackRecorder? feedback = null)
    {
        feedback ??= new FeedbackRecorder(_metrics, Options.Create(new FeedbackOptions()), TimeProvider.System);
        var engine = new InferenceEngine(
            new ModelHost(NullLogger<ModelHost>.Instance), options, TimeProvider.System, NullLoggerFactory.Instance, new ScoringTelemetry(_metrics, feedback));
        engine.Control.Activate(models.LoadScalar("1.0.0"));
        return engine;
    }

    /// <summary>Counts outcomes per arm as a source would see them, and tells when a number of events have ended.</summary>
    private sealed class CountingSink : IInferenceSink
    {
        private readonly Dictionary<string, int> _scored = new(StringComparer.Ordinal);
        private readonly Lock _gate = new();
        private readonly List<(int Count, TaskCompletionSource Done)> _waiters = [];
        private int _ended;

        public int ScoredBy(string arm)
        {
            lock (_gate)
            {
                return _scored.GetValueOrDefault(arm);
            }
        }

        public Task WaitForAsync(int count)
        {
            lock (_gate)
            {
                if (_ended >= count)
                {
                    return Task.CompletedTask;
                }

                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((count, done));
                return done.Task;
            }
        }

        public void OnScored(in InferenceEvent inferenceEvent, in ScoredEvent scored)
        {
            lock (_gate)
            {
                _scored[scored.Arm] = _scored.GetValueOrDefault(scored.Arm) + 1;
                Ended();
            }
        }

        public void OnFailed(in InferenceEvent inferenceEvent, EventOutcome outcome, string reason)
        {
            lock (_gate)
            {
                Ended();
            }
        }

        private void Ended()
        {
            _ended++;
            foreach (var waiter in _waiters.Where(w => w.Count <= _ended))
            {
                waiter.Done.TrySetResult();
            }
        }
    }
}
