namespace EdgePlatform.Benchmarks.RolloutEngine;

/// <summary>A clock the harness moves, so bakes pass without waiting for them.</summary>
internal sealed class SettableClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; private set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}
