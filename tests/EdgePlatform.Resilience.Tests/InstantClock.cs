namespace EdgePlatform.Resilience.Tests;

/// <summary>
/// A clock whose timers fire at once and that records every pause asked of it, so a retry loop's
/// schedule can be read without waiting it out.
/// </summary>
internal sealed class InstantClock : TimeProvider
{
    private readonly List<TimeSpan> _pauses = [];

    public IReadOnlyList<TimeSpan> Pauses
    {
        get
        {
            lock (_pauses)
            {
                return [.. _pauses];
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        lock (_pauses)
        {
            _pauses.Add(dueTime);
        }

        ThreadPool.QueueUserWorkItem(_ => callback(state));
        return new FiredTimer();
    }

    private sealed class FiredTimer : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => false;

        public void Dispose()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
