using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace EdgePlatform.Agent.Inference.Engine;

/// <summary>
/// Scores events in micro-batches: events queue in a bounded channel; one scoring thread
/// takes up to <see cref="InferenceEngineOptions.MaxBatchSize"/> of them, waiting at most
/// <see cref="InferenceEngineOptions.MaxQueueDelay"/> after the oldest arrived, binds them
/// into one reused feature buffer and scores them together: through ONNX Runtime in-process, or
/// one request to the model's container (<see cref="ScoringModel"/>).
/// </summary>
/// <remarks>
/// Each batch takes a lease on the control model (and the candidate's, when arms are in use),
/// so a hot swap never fails or drops an event: the batch finishes on the version that took
/// it, the next batch runs on the new one. Every accepted event reaches its sink exactly once.
/// </remarks>
public sealed class InferenceEngine
{
    private readonly Channel<InferenceEvent> _queue;
    private readonly InferenceEngineOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly EngineCounters _counters = new();

    // Scoring-thread state, sized once for the largest batch and reused for every batch.
    private readonly InferenceEvent[] _batch;
    private readonly int[] _controlRows;
    private readonly int[] _candidateRows;
    private readonly int[] _bound;
    private readonly string?[] _correlationIds;
    private readonly RowPrediction[] _predictions;
    private readonly RowPrediction[] _controlByRow;
    private readonly bool[] _controlScored;
    private readonly TimeSpan[] _latencies;
    private readonly IScoringObserver? _observer;
    private float[] _features = [];
    private string[] _strings = [];

    // The scoring thread's share of time spent scoring, averaged over recent batches. The queue
    // delay is scaled by it: waiting for company saves ONNX Runtime runs only when runs are what
    // the thread is short of, and at light load it would be pure latency. It starts at 1, so the
    // first batches gather as a fixed delay would until the engine has measured its load.
    private double _busyShare = 1;
    private long _lastBatchEnded;

    private volatile ArmPolicy _arms = ArmPolicy.ControlOnly;

    public InferenceEngine(ModelHost control, InferenceEngineOptions options, TimeProvider timeProvider, ILoggerFactory loggerFactory, IScoringObserver? observer = null)
    {
        ArgumentNullException.ThrowIfNull(control);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.QueueCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxQueueDelayMs);

        Control = control;
        Candidate = new ModelHost(loggerFactory.CreateLogger<ModelHost>());
        _options = options;
        _time = timeProvider;
        _logger = loggerFactory.CreateLogger<InferenceEngine>();
        var channelOptions = new BoundedChannelOptions(options.QueueCapacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = options.QueueFullPolicy == QueueFullPolicy.DropOldest ? BoundedChannelFullMode.DropOldest : BoundedChannelFullMode.Wait,
            AllowSynchronousContinuations = false,
        };
        _queue = Channel.CreateBounded<InferenceEvent>(channelOptions, OnDropped);

        var max = options.MaxBatchSize;
        _batch = new InferenceEvent[max];
        _controlRows = new int[max];
        _candidateRows = new int[max];
        _bound = new int[max];
        _correlationIds = new string?[max];
        _predictions = new RowPrediction[max];
        _controlByRow = new RowPrediction[max];
        _controlScored = new bool[max];
        _latencies = new TimeSpan[max];
        _observer = observer;
    }

    /// <summary>The control arm: the model whose predictions are published. The model runtime swaps versions here.</summary>
    public ModelHost Control { get; }

    /// <summary>The candidate arm, scored beside the control as <see cref="Arms"/> says; empty unless a candidate is activated.</summary>
    public ModelHost Candidate { get; }

    public ArmPolicy Arms => _arms;

    public InferenceEngineOptions Options => _options;

    public InferenceCounters Counters => _counters.Snapshot(_queue.Reader.Count);

    public ShadowComparison Shadow => _counters.ShadowSnapshot();

    /// <summary>Changes how events are shared between the arms, from the next batch on.</summary>
    public void SetArms(ArmPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        _arms = policy;
        Log.ArmsChanged(_logger, policy.Mode, policy.CandidatePercent, policy.KeyField);
    }

    /// <summary>
    /// Queues an event. False when it was refused: the queue is full under
    /// <see cref="QueueFullPolicy.Reject"/>, or the engine has stopped. A refused event is
    /// counted and never reaches its sink; an accepted one always does.
    /// </summary>
    public bool TryEnqueue(InferenceEvent inferenceEvent)
    {
        // Counted before it is written so that the scoring thread never sees an event end before it began.
        _counters.Accepted();
        if (_queue.Writer.TryWrite(inferenceEvent with { AcceptedAt = _time.GetTimestamp() }))
        {
            return true;
        }

        _counters.Unaccepted();
        _counters.Rejected();
        ObserveDropped();
        return false;
    }

    /// <summary>
    /// Scores queued events until <paramref name="stoppingToken"/> is cancelled, then stops taking
    /// events and scores those still queued before returning, so a shutdown loses none.
    /// </summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        Log.EngineStarted(_logger, _options.MaxBatchSize, _options.MaxQueueDelayMs, _options.QueueCapacity, _options.QueueFullPolicy);
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                var count = await FillBatchAsync(reader).ConfigureAwait(false);
                if (count > 0)
                {
                    var started = _time.GetTimestamp();
                    ScoreBatch(count);
                    NoteBusy(started);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down: drain below.
        }

        _queue.Writer.TryComplete();
        var drained = 0;
        int taken;
        while ((taken = TakeAvailable(reader, 0)) > 0)
        {
            ScoreBatch(taken);
            drained += taken;
        }

        Log.EngineDrained(_logger, drained);
    }

    private async ValueTask<int> FillBatchAsync(ChannelReader<InferenceEvent> reader)
    {
        var count = TakeAvailable(reader, 0);
        var maxDelay = _options.MaxQueueDelay * _busyShare;
        while (count > 0 && count < _batch.Length && maxDelay > TimeSpan.Zero)
        {
            var remaining = maxDelay - _time.GetElapsedTime(_batch[0].AcceptedAt);
            if (remaining <= TimeSpan.Zero)
            {
                break;
            }

            // A partial batch waits for company only until its oldest event has waited the
            // maximum delay. The timer comes from the injected clock, so tests can step it.
            using var timeout = new CancellationTokenSource(remaining, _time);
            try
            {
                if (!await reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false))
                {
                    break;
                }
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                break;
            }

            count = TakeAvailable(reader, count);
        }

        return count;
    }

    /// <summary>
    /// Folds the batch that began at <paramref name="started"/> into <see cref="_busyShare"/>:
    /// its scoring time against the time since the previous batch ended (waits included).
    /// </summary>
    private void NoteBusy(long started)
    {
        const double Weight = 0.1;
        var ended = _time.GetTimestamp();
        var busy = ended - started;
        var cycle = _lastBatchEnded == 0 ? busy : ended - _lastBatchEnded;
        _lastBatchEnded = ended;
        if (cycle > 0)
        {
            _busyShare += Weight * ((Math.Min(busy, cycle) / (double)cycle) - _busyShare);
        }
    }

    private int TakeAvailable(ChannelReader<InferenceEvent> reader, int count)
    {
        while (count < _batch.Length && reader.TryRead(out var next))
        {
            _batch[count++] = next;
        }

        return count;
    }

    private void ScoreBatch(int count)
    {
        _counters.Batch(count);
        try
        {
            if (!Control.TryAcquire(out var control))
            {
                for (var i = 0; i < count; i++)
                {
                    Fail(i, EventOutcome.NoModel, "no model is active");
                }

                return;
            }

            using (control)
            {
                var policy = _arms;
                if (policy.Mode == ArmMode.ControlOnly || !Candidate.TryAcquire(out var candidate))
                {
                    ScoreRows(control.Model, Contracts.Arms.Control, AllRows(count), shadow: false);
                    return;
                }

                using (candidate)
                {
                    if (policy.Mode == ArmMode.Split)
                    {
                        var toControl = Partition(count, policy, out var toCandidate);
                        ScoreRows(control.Model, Contracts.Arms.Control, _controlRows.AsSpan(0, toControl), shadow: false);
                        ScoreRows(candidate.Model, Contracts.Arms.Candidate, _candidateRows.AsSpan(0, toCandidate), shadow: false);
                    }
                    else
                    {
                        Array.Clear(_controlScored, 0, count);
                        ScoreRows(control.Model, Contracts.Arms.Control, AllRows(count), shadow: false, keepForComparison: true);
                        ScoreRows(candidate.Model, Contracts.Arms.Candidate, AllRows(count), shadow: true);
                    }
                }
            }
        }
        finally
        {
            // Drop references to payloads and sinks so they can be collected while the engine idles.
            Array.Clear(_batch, 0, count);
            Array.Clear(_correlationIds);
        }
    }

    private ReadOnlySpan<int> AllRows(int count)
    {
        for (var i = 0; i < count; i++)
        {
            _controlRows[i] = i;
        }

        return _controlRows.AsSpan(0, count);
    }

    /// <summary>Splits the batch into <see cref="_controlRows"/> and <see cref="_candidateRows"/>; returns the control's count.</summary>
    private int Partition(int count, ArmPolicy policy, out int toCandidate)
    {
        var toControl = 0;
        toCandidate = 0;
        for (var i = 0; i < count; i++)
        {
            ref readonly var next = ref _batch[i];
            var hasKey = next.Rows is { } rows
                ? rows.TryHashKey(next.Row, policy.KeyField, out var hash)
                : JsonKeys.TryHash(next.Json.Span, policy.KeyFieldUtf8, out hash);
            if (hasKey && policy.RoutesToCandidate(hash))
            {
                _candidateRows[toCandidate++] = i;
            }
            else
            {
                _controlRows[toControl++] = i;
            }
        }

        return toControl;
    }

    /// <summary>
    /// Binds <paramref name="rows"/> of the batch to <paramref name="model"/> and scores them in
    /// one run. Published arms report every event to its sink; a shadow arm only compares.
    /// </summary>
    private void ScoreRows(ScoringModel model, string arm, ReadOnlySpan<int> rows, bool shadow, bool keepForComparison = false)
    {
        if (rows.IsEmpty)
        {
            return;
        }

        var width = model.FeatureCount;
        if (_features.Length < _batch.Length * width)
        {
            _features = new float[_batch.Length * width];
        }

        var stringWidth = model.StringCount;
        if (_strings.Length < _batch.Length * stringWidth)
        {
            _strings = new string[_batch.Length * stringWidth];
        }

        var bound = 0;
        var bindingFailures = 0;
        foreach (var row in rows)
        {
            ref readonly var next = ref _batch[row];
            var features = _features.AsSpan(bound * width, width);
            var strings = _strings.AsSpan(bound * stringWidth, stringWidth);
            try
            {
                _correlationIds[bound] = next.Rows switch
                {
                    { } eventRows when stringWidth == 0 && !model.Binder.AcceptsAnyMissing => eventRows.Bind(next.Row, model.Binder.Fields, features),
                    { } eventRows => eventRows.Bind(next.Row, model.Binder, features, strings),
                    _ => model.Binder.Bind(next.Json.Span, features, strings),
                };
                _bound[bound++] = row;
            }
            catch (EventBindingException ex)
            {
                bindingFailures++;
                if (shadow)
                {
                    _counters.CandidateBindingFailed();
                }
                else
                {
                    Fail(row, EventOutcome.BindingFailed, ex.Message);
                }
            }
        }

        if (bindingFailures > 0)
        {
            // One report per run, not per row: a flood of bad events stays cheap.
            _observer?.OnFailed(model, arm, EventOutcome.BindingFailed, bindingFailures);
        }

        if (bound == 0)
        {
            return;
        }

        TimeSpan elapsed;
        var predictions = _predictions.AsSpan(0, bound);
        try
        {
            elapsed = model.ScoreBatch(_features.AsSpan(0, bound * width), _strings.AsSpan(0, bound * stringWidth), predictions);
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or ModelScoringException)
        {
            Log.BatchFailed(_logger, bound, model.Identity.Name, model.Identity.Version, arm, ex.Message);
            _observer?.OnFailed(model, arm, EventOutcome.ScoringFailed, bound);
            if (!shadow)
            {
                for (var i = 0; i < bound; i++)
                {
                    Fail(_bound[i], EventOutcome.ScoringFailed, $"scoring failed: {ex.Message}");
                }
            }

            return;
        }

        if (model.IsMulticlass)
        {
            bound = DropUnreadableRows(model, arm, bound, width, shadow);
            predictions = predictions[..bound];
            if (bound == 0)
            {
                return;
            }
        }

        var isCandidate = string.Equals(arm, Contracts.Arms.Candidate, StringComparison.Ordinal);
        if (shadow || keepForComparison)
        {
            _counters.ArmLatency(isCandidate, elapsed, bound);
        }

        var now = _time.GetTimestamp();
        for (var i = 0; i < bound; i++)
        {
            _latencies[i] = _time.GetElapsedTime(_batch[_bound[i]].AcceptedAt, now);
        }

        if (_observer is { } observer)
        {
            try
            {
                observer.OnScored(new ScoredRun(model, arm, _features.AsSpan(0, bound * width), predictions, _latencies.AsSpan(0, bound), _correlationIds.AsSpan(0, bound)));
            }
            catch (Exception ex)
            {
                Log.SinkFailed(_logger, ex);
            }
        }

        if (shadow)
        {
            var compared = 0;
            var agreements = 0;
            for (var i = 0; i < bound; i++)
            {
                var row = _bound[i];
                if (_controlScored[row])
                {
                    var control = _controlByRow[row];
                    compared++;
                    if (_counters.Compared(control.Label, control.Score, predictions[i].Label, predictions[i].Score))
                    {
                        agreements++;
                    }
                }
            }

            if (compared > 0 && _observer is { } comparisonObserver)
            {
                try
                {
                    comparisonObserver.OnCompared(model, arm, compared, agreements);
                }
                catch (Exception ex)
                {
                    Log.SinkFailed(_logger, ex);
                }
            }

            return;
        }

        for (var i = 0; i < bound; i++)
        {
            var row = _bound[i];
            ref readonly var next = ref _batch[row];
            if (keepForComparison)
            {
                _controlByRow[row] = predictions[i];
                _controlScored[row] = true;
            }

            _counters.Scored(isCandidate);
            var scored = new ScoredEvent(model.Identity, arm, _correlationIds[i], predictions[i], _latencies[i]);
            try
            {
                next.Sink.OnScored(next, scored);
            }
            catch (Exception ex)
            {
                Log.SinkFailed(_logger, ex);
            }
        }
    }

    /// <summary>
    /// Fails the scored rows whose output the card cannot read (<see cref="RowPrediction.Problem"/>)
    /// and closes the gaps they leave, so the rest of the run sees only usable predictions.
    /// Returns how many rows are left.
    /// </summary>
    private int DropUnreadableRows(ScoringModel model, string arm, int bound, int width, bool shadow)
    {
        var kept = 0;
        for (var i = 0; i < bound; i++)
        {
            if (_predictions[i].Problem is { } problem)
            {
                if (!shadow)
                {
                    Fail(_bound[i], EventOutcome.ScoringFailed, $"scoring failed: {problem}");
                }

                continue;
            }

            if (kept != i)
            {
                _predictions[kept] = _predictions[i];
                _bound[kept] = _bound[i];
                _correlationIds[kept] = _correlationIds[i];
                _features.AsSpan(i * width, width).CopyTo(_features.AsSpan(kept * width, width));
            }

            kept++;
        }

        if (kept < bound)
        {
            Log.BatchFailed(_logger, bound - kept, model.Identity.Name, model.Identity.Version, arm, "the model gave outputs its card cannot read");
            _observer?.OnFailed(model, arm, EventOutcome.ScoringFailed, bound - kept);
        }

        return kept;
    }

    private void Fail(int row, EventOutcome outcome, string reason) => Report(_batch[row], outcome, reason);

    private void OnDropped(InferenceEvent dropped)
    {
        ObserveDropped();
        Report(dropped, EventOutcome.Dropped, "the queue was full; the oldest event was dropped");
    }

    /// <summary>A shed event was never bound to a model; it counts against the control version serving when it was shed.</summary>
    private void ObserveDropped()
    {
        if (_observer is not { } observer || !Control.TryAcquire(out var control))
        {
            return;
        }

        using (control)
        {
            try
            {
                observer.OnFailed(control.Model, Contracts.Arms.Control, EventOutcome.Dropped, 1);
            }
            catch (Exception ex)
            {
                Log.SinkFailed(_logger, ex);
            }
        }
    }

    private void Report(in InferenceEvent inferenceEvent, EventOutcome outcome, string reason)
    {
        _counters.Ended(outcome);
        try
        {
            inferenceEvent.Sink.OnFailed(inferenceEvent, outcome, reason);
        }
        catch (Exception ex)
        {
            Log.SinkFailed(_logger, ex);
        }
    }
}
