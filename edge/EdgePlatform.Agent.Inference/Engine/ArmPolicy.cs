using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Inference.Engine;

/// <summary>How events are shared between the control model and a candidate.</summary>
public enum ArmMode
{
    /// <summary>Every event is scored by the control model only.</summary>
    ControlOnly,

    /// <summary>Each event is scored by one arm, chosen by a hash of its key, so the same key always lands on the same arm.</summary>
    Split,

    /// <summary>Both arms score every event; only the control's prediction is published, the two are compared.</summary>
    Shadow,
}

/// <summary>
/// Which arm scores an event. With no candidate model active every mode behaves as
/// <see cref="ArmMode.ControlOnly"/>, so a policy can be set before the candidate has loaded.
/// </summary>
public sealed record ArmPolicy
{
    private ArmPolicy(ArmMode mode, double candidatePercent, string keyField)
    {
        Mode = mode;
        CandidatePercent = candidatePercent;
        KeyField = keyField;
        KeyFieldUtf8 = System.Text.Encoding.UTF8.GetBytes(keyField);
    }

    public static ArmPolicy ControlOnly { get; } = new(ArmMode.ControlOnly, 0, EventFields.CorrelationId);

    public ArmMode Mode { get; }

    /// <summary>Share of keys routed to the candidate in <see cref="ArmMode.Split"/>, 0 to 100.</summary>
    public double CandidatePercent { get; }

    /// <summary>Event field whose value decides the arm in <see cref="ArmMode.Split"/>; an event without it goes to the control.</summary>
    public string KeyField { get; }

    /// <summary>The key field as the JSON reader compares it; kept with the policy so a change of policy changes both at once.</summary>
    internal byte[] KeyFieldUtf8 { get; }

    /// <summary>Routes <paramref name="candidatePercent"/> percent of the values of <paramref name="keyField"/> to the candidate.</summary>
    public static ArmPolicy Split(double candidatePercent, string keyField)
    {
        if (!(candidatePercent is >= 0 and <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(candidatePercent), candidatePercent, "the candidate's share must be between 0 and 100 percent");
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(keyField);
        return new ArmPolicy(ArmMode.Split, candidatePercent, keyField);
    }

    public static ArmPolicy Shadow() => new(ArmMode.Shadow, 0, EventFields.CorrelationId);

    /// <summary>
    /// True when a key with this hash goes to the candidate. Buckets of 0.01 % keep the split
    /// stable for a key across restarts and devices: the hash is FNV-1a over the key's bytes.
    /// </summary>
    public bool RoutesToCandidate(uint keyHash) => keyHash % 10_000 < (uint)Math.Round(CandidatePercent * 100);
}
