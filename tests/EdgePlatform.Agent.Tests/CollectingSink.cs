using System.Collections.Concurrent;
using EdgePlatform.Agent.Inference.Engine;

namespace EdgePlatform.Agent.Tests;

/// <summary>Keeps what the engine did with each event, and completes <see cref="All"/> once <c>expected</c> events have ended either way.</summary>
internal sealed class CollectingSink(int expected) : IInferenceSink
{
    private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _left = expected;

    public Task All => _all.Task;

    public ConcurrentDictionary<string, ScoredEvent> Scored { get; } = new();

    public ConcurrentBag<string> Failures { get; } = [];

    public void OnScored(in InferenceEvent inferenceEvent, in ScoredEvent scored)
    {
        Scored[scored.CorrelationId!] = scored;
        Done();
    }

    public void OnFailed(in InferenceEvent inferenceEvent, EventOutcome outcome, string reason)
    {
        Failures.Add($"{outcome}: {reason}");
        Done();
    }

    private void Done()
    {
        if (Interlocked.Decrement(ref _left) == 0)
        {
            _all.TrySetResult();
        }
    }
}
