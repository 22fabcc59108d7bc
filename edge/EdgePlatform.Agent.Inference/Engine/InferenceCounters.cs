namespace EdgePlatform.Agent.Inference.Engine;

/// <summary>
/// What the engine did since it started. Every accepted event ends in exactly one of
/// <see cref="Scored"/>, <see cref="DeadLettered"/>, <see cref="Failed"/>, <see cref="Dropped"/>
/// or <see cref="Stopped"/>; <see cref="Rejected"/> events were never accepted.
/// </summary>
public sealed record InferenceCounters(
    long Accepted,
    long Rejected,
    long Dropped,
    long Scored,
    long ScoredByCandidate,
    long DeadLettered,
    long Failed,
    long Stopped,
    long Batches,
    int MaxBatchSeen,
    int QueueDepth)
{
    /// <summary>Accepted events that have not yet ended one way or another (queued or being scored).</summary>
    public long InFlight => Accepted - Scored - DeadLettered - Failed - Dropped - Stopped;

    public double MeanBatchSize => Batches == 0 ? 0 : (double)(Scored + DeadLettered + Failed) / Batches;
}

/// <summary>
/// How the candidate compares with the control in shadow mode, over the events both scored.
/// Latencies are each arm's ONNX Runtime time per event, averaged over its batches.
/// </summary>
public sealed record ShadowComparison(
    long Compared,
    long LabelAgreements,
    double MeanAbsoluteScoreDelta,
    double MaxAbsoluteScoreDelta,
    double ControlMeanLatencyMs,
    double CandidateMeanLatencyMs,
    long CandidateBindingFailures)
{
    /// <summary>Share of compared events on which both arms gave the same label; 1 when none were compared.</summary>
    public double Agreement => Compared == 0 ? 1 : (double)LabelAgreements / Compared;
}

/// <summary>Counters the scoring thread writes and any thread reads.</summary>
internal sealed class EngineCounters
{
    private readonly Lock _shadowGate = new();
    private long _accepted;
    private long _rejected;
    private long _dropped;
    private long _scored;
    private long _scoredByCandidate;
    private long _deadLettered;
    private long _failed;
    private long _stopped;
    private long _batches;
    private int _maxBatch;

    private long _compared;
    private long _agreements;
    private double _scoreDeltaSum;
    private double _scoreDeltaMax;
    private double _controlLatencyMsSum;
    private long _controlLatencyEvents;
    private double _candidateLatencyMsSum;
    private long _candidateLatencyEvents;
    private long _candidateBindingFailures;

    public void Accepted() => Interlocked.Increment(ref _accepted);

    public void Unaccepted() => Interlocked.Decrement(ref _accepted);

    public void Rejected() => Interlocked.Increment(ref _rejected);

    public void Ended(EventOutcome outcome)
    {
        switch (outcome)
        {
            case EventOutcome.BindingFailed or EventOutcome.NoModel:
                Interlocked.Increment(ref _deadLettered);
                break;
            case EventOutcome.ScoringFailed:
                Interlocked.Increment(ref _failed);
                break;
            case EventOutcome.Dropped:
                Interlocked.Increment(ref _dropped);
                break;
            default:
                Interlocked.Increment(ref _stopped);
                break;
        }
    }

    public void Scored(bool byCandidate)
    {
        Interlocked.Increment(ref _scored);
        if (byCandidate)
        {
            Interlocked.Increment(ref _scoredByCandidate);
        }
    }

    public void Batch(int size)
    {
        Interlocked.Increment(ref _batches);
        if (size > Volatile.Read(ref _maxBatch))
        {
            Volatile.Write(ref _maxBatch, size);
        }
    }

    /// <summary>Counts one event both arms scored; true when their labels agree, the one rule agreement is judged by.</summary>
    public bool Compared(bool? controlLabel, float? controlScore, bool? candidateLabel, float? candidateScore)
    {
        var agreed = controlLabel == candidateLabel;
        lock (_shadowGate)
        {
            _compared++;
            if (agreed)
            {
                _agreements++;
            }

            if (controlScore is { } control && candidateScore is { } candidate)
            {
                var delta = Math.Abs((double)control - candidate);
                _scoreDeltaSum += delta;
                _scoreDeltaMax = Math.Max(_scoreDeltaMax, delta);
            }
        }

        return agreed;
    }

    public void ArmLatency(bool candidate, TimeSpan batchTime, int events)
    {
        lock (_shadowGate)
        {
            if (candidate)
            {
                _candidateLatencyMsSum += batchTime.TotalMilliseconds;
                _candidateLatencyEvents += events;
            }
            else
            {
                _controlLatencyMsSum += batchTime.TotalMilliseconds;
                _controlLatencyEvents += events;
            }
        }
    }

    public void CandidateBindingFailed()
    {
        lock (_shadowGate)
        {
            _candidateBindingFailures++;
        }
    }

    public InferenceCounters Snapshot(int queueDepth) => new(
        Interlocked.Read(ref _accepted),
        Interlocked.Read(ref _rejected),
        Interlocked.Read(ref _dropped),
        Interlocked.Read(ref _scored),
        Interlocked.Read(ref _scoredByCandidate),
        Interlocked.Read(ref _deadLettered),
        Interlocked.Read(ref _failed),
        Interlocked.Read(ref _stopped),
        Interlocked.Read(ref _batches),
        Volatile.Read(ref _maxBatch),
        queueDepth);

    public ShadowComparison ShadowSnapshot()
    {
        lock (_shadowGate)
        {
            return new ShadowComparison(
                _compared,
                _agreements,
                _compared == 0 ? 0 : _scoreDeltaSum / _compared,
                _scoreDeltaMax,
                _controlLatencyEvents == 0 ? 0 : _controlLatencyMsSum / _controlLatencyEvents,
                _candidateLatencyEvents == 0 ? 0 : _candidateLatencyMsSum / _candidateLatencyEvents,
                _candidateBindingFailures);
        }
    }
}
