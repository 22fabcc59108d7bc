namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

/// <summary>A clock that stands still until the test moves it: lease expiry without waiting.</summary>
internal sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}
