using Apache.Arrow;
using EdgePlatform.Agent.Inference.Engine;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.Agent.Inference.Tests.Engine;

/// <summary>
/// The engine's hot path allocates nothing per event once warm: binding, batching, ONNX Runtime
/// and reporting to the sink all reuse what the first batches made. Measured on one thread by
/// draining a queued backlog synchronously, so nothing else's allocations are counted. The
/// runtime may allocate once on whichever thread first crosses a tiering threshold, so the
/// measured events are split into windows: a cost per event or per batch shows in every
/// window, a one-off in one.
/// </summary>
[Collection(TestModelsGroup.Name)]
public sealed class EngineAllocationTests(TestModels models)
{
    private const int BatchSize = 64;
    private const int WarmBatches = 4;
    private const int MeasuredBatches = 48;
    private const int Windows = 3;

    [Fact]
    public async Task RunAsync_SteadyStateJsonEvents_AllocatesNothingPerEvent()
    {
        var events = Enumerable.Range(0, BatchSize * (WarmBatches + MeasuredBatches))
            .Select(i => TestModels.EventJson(models.TestRows[i % models.TestRows.Count], id: null))
            .ToArray();

        var allocated = await AllocatedWhileScoringAsync(events.Length, (engine, sink, i) => engine.TryEnqueue(InferenceEvent.FromJson(events[i], sink)));

        Assert.Equal(0, allocated);
    }

    [Fact]
    public async Task RunAsync_SteadyStateArrowRows_AllocatesNothingPerEvent()
    {
        var rows = models.TestRows.Take(BatchSize).ToList();
        using var batch = new RecordBatch.Builder()
            .Append(TestModels.Temperature, false, column => column.Float(values => values.AppendRange(rows.Select(row => row.Temperature))))
            .Append(TestModels.Vibration, false, column => column.Float(values => values.AppendRange(rows.Select(row => row.Vibration))))
            .Append(TestModels.Pressure, false, column => column.Float(values => values.AppendRange(rows.Select(row => row.Pressure))))
            .Build();
        var eventRows = new ArrowEventRows(batch);

        var allocated = await AllocatedWhileScoringAsync(
            BatchSize * (WarmBatches + MeasuredBatches), (engine, sink, i) => engine.TryEnqueue(InferenceEvent.FromRow(eventRows, i % BatchSize, sink)));

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void ScoreBatch_SteadyState_AllocatesNothing()
    {
        using var model = models.LoadScalar();
        var features = new float[BatchSize * model.FeatureCount];
        var predictions = new RowPrediction[BatchSize];
        for (var row = 0; row < BatchSize; row++)
        {
            models.TestRows[row % models.TestRows.Count].Values.CopyTo(features, row * model.FeatureCount);
        }

        for (var i = 0; i < WarmBatches; i++)
        {
            model.ScoreBatch(features, [], predictions);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < MeasuredBatches; i++)
        {
            model.ScoreBatch(features, [], predictions);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    /// <summary>
    /// Queues <paramref name="count"/> events, then drains them on this thread (a cancelled
    /// engine scores its backlog before returning) and returns the fewest bytes this thread
    /// allocated over any window of the events after the warm-up batches.
    /// </summary>
    private async Task<long> AllocatedWhileScoringAsync(int count, Action<InferenceEngine, IInferenceSink, int> enqueue)
    {
        var engine = new InferenceEngine(
            new ModelHost(NullLogger<ModelHost>.Instance),
            new InferenceEngineOptions { MaxBatchSize = BatchSize, MaxQueueDelayMs = 0, QueueCapacity = count },
            TimeProvider.System,
            NullLoggerFactory.Instance);
        engine.Control.Activate(models.LoadScalar());
        var sink = new AllocationSink(firstMark: BatchSize * WarmBatches, window: BatchSize * MeasuredBatches / Windows);
        for (var i = 0; i < count; i++)
        {
            enqueue(engine, sink, i);
        }

        using var stopped = new CancellationTokenSource();
        await stopped.CancelAsync();
        var drained = engine.RunAsync(stopped.Token);

        Assert.True(drained.IsCompleted, "a cancelled engine drains its backlog before returning");
        await drained;
        Assert.Equal(count, sink.Scored);
        Assert.Equal(0, sink.Failed);
        var windows = sink.AllocatedPerWindow();
        Assert.Equal(Windows, windows.Count);
        Assert.True(windows.Min() == 0, $"bytes allocated per window of {BatchSize * MeasuredBatches / Windows} events: {string.Join(", ", windows)}");
        return windows.Min();
    }

    /// <summary>Counts outcomes and reads this thread's allocation counter at window boundaries.</summary>
    private sealed class AllocationSink(int firstMark, int window) : IInferenceSink
    {
        private readonly List<long> _marks = [];

        public int Scored { get; private set; }

        public int Failed { get; private set; }

        public List<long> AllocatedPerWindow() => [.. _marks.Zip(_marks.Skip(1), (from, to) => to - from)];

        public void OnScored(in InferenceEvent inferenceEvent, in ScoredEvent scored)
        {
            Scored++;
            if (Scored >= firstMark && (Scored - firstMark) % window == 0)
            {
                _marks.Add(GC.GetAllocatedBytesForCurrentThread());
            }
        }

        public void OnFailed(in InferenceEvent inferenceEvent, EventOutcome outcome, string reason) => Failed++;
    }
}
