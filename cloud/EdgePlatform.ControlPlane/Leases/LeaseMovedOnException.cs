namespace EdgePlatform.ControlPlane.Leases;

/// <summary>
/// A fenced write was refused because its lease moved to another replica: the work stops where
/// it is, and the new holder carries on from what is stored.
/// </summary>
public sealed class LeaseMovedOnException : Exception
{
    public LeaseMovedOnException()
        : base("the lease this work ran under has moved to another replica")
    {
    }

    public LeaseMovedOnException(string message)
        : base(message)
    {
    }

    public LeaseMovedOnException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
