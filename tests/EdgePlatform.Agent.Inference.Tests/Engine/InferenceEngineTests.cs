using System.Text;
using Apache.Arrow;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.Agent.Inference.Tests.Engine;

[Collection(TestModelsGroup.Name)]
public sealed class InferenceEngineTests(TestModels models) : IAsyncDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly CancellationTokenSource _stop = new();
    private readonly RecordingSink _sink = new();
    private Task? _running;

    [Fact]
    public async Task RunAsync_EventsWithMissingOrMistypedFields_DeadLettersThemWithReasonAndScoresTheRest()
    {
        var engine = NewEngine(new InferenceEngineOptions { MaxQueueDelayMs = 0 });
        engine.Control.Activate(models.LoadScalar());
        Start(engine);

        engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[0], "good-1"), _sink, "good-1"));
        engine.TryEnqueue(InferenceEvent.FromJson(Utf8($"{{\"id\":\"m\",\"{TestModels.Temperature}\":60,\"{TestModels.Vibration}\":3}}"), _sink, "missing"));
        engine.TryEnqueue(InferenceEvent.FromJson(Utf8($"{{\"id\":\"t\",\"{TestModels.Temperature}\":\"hot\",\"{TestModels.Vibration}\":3,\"{TestModels.Pressure}\":100}}"), _sink, "mistyped"));
        engine.TryEnqueue(InferenceEvent.FromJson(Utf8("not json"), _sink, "garbage"));
        engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[1], "good-2"), _sink, "good-2"));
        await _sink.WaitForAsync(5, Patience);

        Assert.Equal(["good-1", "good-2"], _sink.Scored.Select(scored => scored.Scored.CorrelationId).Order());
        var failures = _sink.Failed.ToDictionary(failed => (string)failed.State!);
        Assert.Equal($"field '{TestModels.Pressure}' is missing", failures["missing"].Reason);
        Assert.Equal($"field '{TestModels.Temperature}' is a string, expected a number", failures["mistyped"].Reason);
        Assert.StartsWith("payload is not valid JSON", failures["garbage"].Reason, StringComparison.Ordinal);
        Assert.All(failures.Values, failed => Assert.Equal(EventOutcome.BindingFailed, failed.Outcome));
        var counters = engine.Counters;
        Assert.Equal(3, counters.DeadLettered);
        Assert.Equal(2, counters.Scored);
    }

    [Fact]
    public async Task RunAsync_NoActiveModel_ReportsEveryEventAsNoModel()
    {
        var engine = NewEngine(new InferenceEngineOptions { MaxQueueDelayMs = 0 });
        Start(engine);

        engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[0], "a"), _sink));
        await _sink.WaitForAsync(1, Patience);

        var failed = Assert.Single(_sink.Failed);
        Assert.Equal(EventOutcome.NoModel, failed.Outcome);
        Assert.Equal("no model is active", failed.Reason);
    }

    [Fact]
    public async Task RunAsync_MoreEventsQueuedThanMaxBatchSize_ScoresThemInBatchesNoLargerThanIt()
    {
        var engine = NewEngine(new InferenceEngineOptions { MaxBatchSize = 4, MaxQueueDelayMs = 0 });
        engine.Control.Activate(models.LoadScalar());
        for (var i = 0; i < 10; i++)
        {
            engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[i], $"e{i}"), _sink));
        }

        Start(engine);
        await _sink.WaitForAsync(10, Patience);

        var counters = engine.Counters;
        Assert.Equal(10, counters.Scored);
        Assert.Equal(3, counters.Batches);
        Assert.Equal(4, counters.MaxBatchSeen);
    }

    [Fact]
    public async Task RunAsync_BatchedScores_EqualSingleEventScores()
    {
        var engine = NewEngine(new InferenceEngineOptions { MaxBatchSize = 64, MaxQueueDelayMs = 0 });
        engine.Control.Activate(models.LoadScalar());
        using var single = models.LoadScalar();
        var rows = models.TestRows.Take(32).ToList();
        for (var i = 0; i < rows.Count; i++)
        {
            engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(rows[i], $"e{i}"), _sink, i));
        }

        Start(engine);
        await _sink.WaitForAsync(rows.Count, Patience);

        Assert.Equal(1, engine.Counters.Batches);
        foreach (var (state, scored) in _sink.Scored)
        {
            var expected = single.Score(TestModels.EventJson(rows[(int)state!], null));
            Assert.Equal(expected.Score!.Value, scored.Prediction.Score!.Value, 1e-6f);
            Assert.Equal(expected.Label, scored.Prediction.Label);
        }
    }

    [Fact]
    public async Task RunAsync_PartialBatch_WaitsTheMaxQueueDelayForMoreEvents()
    {
        var time = new ManualTimeProvider();
        var engine = NewEngine(new InferenceEngineOptions { MaxBatchSize = 64, MaxQueueDelayMs = 10 }, time);
        engine.Control.Activate(models.LoadScalar());
        engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[0], "a"), _sink));
        engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[1], "b"), _sink));

        Start(engine);
        var due = await time.NextTimerAsync(Patience);
        time.Advance(TimeSpan.FromMilliseconds(9));

        Assert.Equal(TimeSpan.FromMilliseconds(10), due);
        Assert.Equal(0, _sink.Ended);

        time.Advance(TimeSpan.FromMilliseconds(1));
        await _sink.WaitForAsync(2, Patience);

        var counters = engine.Counters;
        Assert.Equal(1, counters.Batches);
        Assert.Equal(2, counters.MaxBatchSeen);
        Assert.All(_sink.Scored, scored => Assert.Equal(TimeSpan.FromMilliseconds(10), scored.Scored.Latency));
    }

    [Fact]
    public async Task RunAsync_FullBatch_IsScoredWithoutWaitingForTheDelay()
    {
        var time = new ManualTimeProvider();
        var engine = NewEngine(new InferenceEngineOptions { MaxBatchSize = 2, MaxQueueDelayMs = 1000 }, time);
        engine.Control.Activate(models.LoadScalar());
        engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[0], "a"), _sink));
        engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[1], "b"), _sink));

        Start(engine);
        await _sink.WaitForAsync(2, Patience);

        Assert.Equal(1, engine.Counters.Batches);
        Assert.All(_sink.Scored, scored => Assert.Equal(TimeSpan.Zero, scored.Scored.Latency));
    }

    [Fact]
    public async Task RunAsync_HotSwapsUnderLoad_EveryEventIsScoredOnceAndNoneLost()
    {
        const int Events = 20_000;
        var engine = NewEngine(new InferenceEngineOptions { MaxBatchSize = 32, MaxQueueDelayMs = 1, QueueCapacity = Events, QueueFullPolicy = QueueFullPolicy.Reject });
        engine.Control.Activate(models.LoadScalar("1"));
        Start(engine);
        var payloads = models.TestRows.Select((row, i) => TestModels.EventJson(row, $"e{i}")).ToArray();
        var retired = new List<RetiredModel>();

        var producer = Task.Run(() =>
        {
            for (var i = 0; i < Events; i++)
            {
                Assert.True(engine.TryEnqueue(InferenceEvent.FromJson(payloads[i % payloads.Length], _sink)));
            }
        });
        for (var version = 2; version <= 6; version++)
        {
            var next = models.LoadScalar(version.ToString(System.Globalization.CultureInfo.InvariantCulture));
            next.Warm();
            retired.Add(engine.Control.Activate(next)!);
        }

        await producer;
        await _sink.WaitForAsync(Events, Patience);
        await Task.WhenAll(retired.Select(model => model.Disposed)).WaitAsync(Patience);

        var counters = engine.Counters;
        Assert.Equal(Events, counters.Accepted);
        Assert.Equal(Events, counters.Scored);
        Assert.Equal(0, counters.InFlight);
        Assert.Empty(_sink.Failed);
        Assert.Equal(Events, _sink.Scored.Count);
        Assert.Equal("6", engine.Control.Active?.Version);
        Assert.Contains(_sink.Scored, scored => scored.Scored.Model.Version == "6");
    }

    [Fact]
    public async Task RunAsync_ShadowArm_PublishesOnlyControlAndComparesBothArms()
    {
        var engine = NewEngine(new InferenceEngineOptions { MaxBatchSize = 16, MaxQueueDelayMs = 0 });
        engine.Control.Activate(models.LoadScalar("1"));
        engine.Candidate.Activate(models.LoadScalar("2-candidate"));
        engine.SetArms(ArmPolicy.Shadow());
        for (var i = 0; i < 40; i++)
        {
            engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[i], $"e{i}"), _sink));
        }

        Start(engine);
        await _sink.WaitForAsync(40, Patience);

        Assert.Equal(40, _sink.Scored.Count);
        Assert.All(_sink.Scored, scored =>
        {
            Assert.Equal(Arms.Control, scored.Scored.Arm);
            Assert.Equal("1", scored.Scored.Model.Version);
        });
        var shadow = engine.Shadow;
        Assert.Equal(40, shadow.Compared);
        Assert.Equal(1.0, shadow.Agreement);
        Assert.Equal(0.0, shadow.MaxAbsoluteScoreDelta);
        Assert.True(shadow.CandidateMeanLatencyMs > 0);
        Assert.Equal(0, engine.Counters.ScoredByCandidate);
    }

    [Fact]
    public async Task RunAsync_ShadowCandidateOfADifferentModel_RecordsScoreDeltas()
    {
        var engine = NewEngine(new InferenceEngineOptions { MaxBatchSize = 16, MaxQueueDelayMs = 0 });
        engine.Control.Activate(models.LoadScalar("1"));
        engine.Candidate.Activate(LoadedModel.Load(models.VectorCard, models.VectorModelPath, new OnnxModelSettings()));
        engine.SetArms(ArmPolicy.Shadow());
        for (var i = 0; i < 40; i++)
        {
            engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[i], $"e{i}"), _sink));
        }

        Start(engine);
        await _sink.WaitForAsync(40, Patience);

        var shadow = engine.Shadow;
        Assert.Equal(40, shadow.Compared);
        Assert.True(shadow.MeanAbsoluteScoreDelta > 0);
        Assert.All(_sink.Scored, scored => Assert.Equal(models.ScalarCard.Name, scored.Scored.Model.Name));
    }

    [Fact]
    public async Task RunAsync_SplitArms_RoutesEachKeyToOneArmDeterministically()
    {
        var engine = NewEngine(new InferenceEngineOptions { MaxBatchSize = 64, MaxQueueDelayMs = 0 });
        engine.Control.Activate(models.LoadScalar("1"));
        engine.Candidate.Activate(models.LoadScalar("2"));
        engine.SetArms(ArmPolicy.Split(50, EventFields.CorrelationId, "experiment-salt"));
        const int Keys = 200;
        for (var round = 0; round < 2; round++)
        {
            for (var key = 0; key < Keys; key++)
            {
                engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[key % models.TestRows.Count], $"device-{key}"), _sink));
            }
        }

        Start(engine);
        await _sink.WaitForAsync(2 * Keys, Patience);

        var armsByKey = _sink.Scored.GroupBy(scored => scored.Scored.CorrelationId!)
            .ToDictionary(group => group.Key, group => group.Select(scored => (scored.Scored.Arm, scored.Scored.Model.Version)).Distinct().ToList());
        Assert.Equal(Keys, armsByKey.Count);
        Assert.All(armsByKey.Values, arms => Assert.Single(arms));
        var toCandidate = armsByKey.Values.Count(arms => arms[0] == (Arms.Candidate, "2"));
        var toControl = armsByKey.Values.Count(arms => arms[0] == (Arms.Control, "1"));
        Assert.Equal(Keys, toCandidate + toControl);
        Assert.InRange(toCandidate, Keys / 4, Keys * 3 / 4);
        Assert.Equal(2 * toCandidate, engine.Counters.ScoredByCandidate);
        foreach (var (key, arms) in armsByKey)
        {
            Assert.Equal(ArmPolicy.Split(50, EventFields.CorrelationId, "experiment-salt").RoutesToCandidate(ArmBuckets.Hash(key)), arms[0].Arm == Arms.Candidate);
        }
    }

    [Fact]
    public async Task RunAsync_SplitWithNoCandidateActive_ScoresEverythingOnControl()
    {
        var engine = NewEngine(new InferenceEngineOptions { MaxQueueDelayMs = 0 });
        engine.Control.Activate(models.LoadScalar("1"));
        engine.SetArms(ArmPolicy.Split(100, EventFields.CorrelationId, "experiment-salt"));
        engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[0], "a"), _sink));

        Start(engine);
        await _sink.WaitForAsync(1, Patience);

        Assert.Equal(Arms.Control, Assert.Single(_sink.Scored).Scored.Arm);
    }

    [Fact]
    public async Task TryEnqueue_QueueFullWithDropOldest_DropsAndCountsTheOldestEvents()
    {
        var engine = NewEngine(new InferenceEngineOptions { QueueCapacity = 4, QueueFullPolicy = QueueFullPolicy.DropOldest, MaxQueueDelayMs = 0 });
        engine.Control.Activate(models.LoadScalar());

        var accepted = Enumerable.Range(0, 10)
            .Count(i => engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[i], $"e{i}"), _sink, i)));
        Start(engine);
        await _sink.WaitForAsync(10, Patience);

        Assert.Equal(10, accepted);
        var counters = engine.Counters;
        Assert.Equal(6, counters.Dropped);
        Assert.Equal(4, counters.Scored);
        Assert.Equal(0, counters.Rejected);
        Assert.Equal([0, 1, 2, 3, 4, 5], _sink.Failed.Where(failed => failed.Outcome == EventOutcome.Dropped).Select(failed => (int)failed.State!).Order());
        Assert.Equal([6, 7, 8, 9], _sink.Scored.Select(scored => (int)scored.State!).Order());
    }

    [Fact]
    public void TryEnqueue_QueueFullWithReject_RefusesAndCountsNewEvents()
    {
        var engine = NewEngine(new InferenceEngineOptions { QueueCapacity = 4, QueueFullPolicy = QueueFullPolicy.Reject });

        var results = Enumerable.Range(0, 10)
            .Select(i => engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[i], $"e{i}"), _sink)))
            .ToList();

        Assert.Equal([true, true, true, true, false, false, false, false, false, false], results);
        var counters = engine.Counters;
        Assert.Equal(6, counters.Rejected);
        Assert.Equal(4, counters.Accepted);
        Assert.Equal(4, counters.QueueDepth);
        Assert.Equal(0, _sink.Ended);
    }

    [Fact]
    public async Task RunAsync_Stopped_ScoresEventsStillQueuedThenRefusesNewOnes()
    {
        var engine = NewEngine(new InferenceEngineOptions { MaxBatchSize = 8, MaxQueueDelayMs = 0 });
        engine.Control.Activate(models.LoadScalar());
        for (var i = 0; i < 20; i++)
        {
            engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[i], $"e{i}"), _sink));
        }

        await _stop.CancelAsync();
        await engine.RunAsync(_stop.Token).WaitAsync(Patience);

        Assert.Equal(20, engine.Counters.Scored);
        Assert.False(engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[0], "late"), _sink)));
    }

    [Fact]
    public async Task RunAsync_ArrowRows_ScoreAsTheSameEventsInJson()
    {
        var engine = NewEngine(new InferenceEngineOptions { MaxQueueDelayMs = 0 });
        engine.Control.Activate(models.LoadScalar());
        using var single = models.LoadScalar();
        var rows = models.TestRows.Take(5).ToList();
        using var batch = new RecordBatch.Builder()
            .Append(EventFields.CorrelationId, false, column => column.String(values => values.AppendRange(rows.Select((_, i) => $"r{i}"))))
            .Append(TestModels.Pressure, false, column => column.Double(values => values.AppendRange(rows.Select(row => (double)row.Pressure))))
            .Append(TestModels.Temperature, false, column => column.Float(values => values.AppendRange(rows.Select(row => row.Temperature))))
            .Append(TestModels.Vibration, false, column => column.Float(values => values.AppendRange(rows.Select(row => row.Vibration))))
            .Build();
        var eventRows = new ArrowEventRows(batch);

        Start(engine);
        for (var i = 0; i < eventRows.RowCount; i++)
        {
            engine.TryEnqueue(InferenceEvent.FromRow(eventRows, i, _sink, i));
        }

        await _sink.WaitForAsync(rows.Count, Patience);

        Assert.Empty(_sink.Failed);
        foreach (var (state, scored) in _sink.Scored)
        {
            var i = (int)state!;
            Assert.Equal($"r{i}", scored.CorrelationId);
            Assert.Equal(single.Score(TestModels.EventJson(rows[i], null)).Score!.Value, scored.Prediction.Score!.Value, 1e-6f);
        }
    }

    [Fact]
    public async Task RunAsync_ArrowBatchWithoutAField_DeadLettersEachRowNamingTheField()
    {
        var engine = NewEngine(new InferenceEngineOptions { MaxQueueDelayMs = 0 });
        engine.Control.Activate(models.LoadScalar());
        using var batch = new RecordBatch.Builder()
            .Append(TestModels.Temperature, false, column => column.Float(values => values.AppendRange([60f, 61f])))
            .Append(TestModels.Vibration, false, column => column.Float(values => values.AppendRange([1f, 2f])))
            .Build();
        var eventRows = new ArrowEventRows(batch);

        Start(engine);
        engine.TryEnqueue(InferenceEvent.FromRow(eventRows, 0, _sink));
        engine.TryEnqueue(InferenceEvent.FromRow(eventRows, 1, _sink));
        await _sink.WaitForAsync(2, Patience);

        Assert.Equal(2, _sink.Failed.Count);
        Assert.All(_sink.Failed, failed =>
            Assert.Equal($"field '{TestModels.Pressure}' is missing: the record batch has no such column", failed.Reason));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_running is not null)
        {
            await _running.WaitAsync(Patience);
        }

        _stop.Dispose();
    }

    private static InferenceEngine NewEngine(InferenceEngineOptions options, TimeProvider? time = null) =>
        new(new ModelHost(NullLogger<ModelHost>.Instance), options, time ?? TimeProvider.System, NullLoggerFactory.Instance);

    private void Start(InferenceEngine engine) => _running = engine.RunAsync(_stop.Token);

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
