using System.Collections.Concurrent;
using EdgePlatform.Agent.Inference.Engine;

namespace EdgePlatform.Agent.Inference.Tests.Engine;

/// <summary>Keeps every outcome the engine reports and lets a test wait for a number of them.</summary>
public sealed class RecordingSink : IInferenceSink
{
    private readonly Lock _gate = new();
    private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];
    private int _ended;

    public ConcurrentQueue<(object? State, ScoredEvent Scored)> Scored { get; } = new();

    public ConcurrentQueue<(object? State, EventOutcome Outcome, string Reason)> Failed { get; } = new();

    public int Ended => Volatile.Read(ref _ended);

    public void OnScored(in InferenceEvent inferenceEvent, in ScoredEvent scored)
    {
        Scored.Enqueue((inferenceEvent.State, scored));
        Count();
    }

    public void OnFailed(in InferenceEvent inferenceEvent, EventOutcome outcome, string reason)
    {
        Failed.Enqueue((inferenceEvent.State, outcome, reason));
        Count();
    }

    /// <summary>Completes once <paramref name="count"/> events have ended; fails the test after <paramref name="patience"/>.</summary>
    public Task WaitForAsync(int count, TimeSpan patience)
    {
        lock (_gate)
        {
            if (_ended >= count)
            {
                return Task.CompletedTask;
            }

            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, reached));
            return reached.Task.WaitAsync(patience);
        }
    }

    private void Count()
    {
        lock (_gate)
        {
            _ended++;
            foreach (var waiter in _waiters.Where(waiter => waiter.Count <= _ended).ToList())
            {
                waiter.Reached.TrySetResult();
                _waiters.Remove(waiter);
            }
        }
    }
}
