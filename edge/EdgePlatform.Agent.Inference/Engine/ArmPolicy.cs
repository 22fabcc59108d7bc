using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Inference.Engine;

/// <summary>How events are shared between the control model and a candidate.</summary>
public enum ArmMode
{
    /// <summary>Every event is scored by the control model only.</summary>
    ControlOnly,

    /// <summary>Each event is scored by one arm, chosen by a salted hash of its key, so the same key always lands on the same arm.</summary>
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
    private readonly uint _saltHash;
    private readonly int _candidateBuckets;

    private ArmPolicy(ArmMode mode, double candidatePercent, string keyField, string salt)
    {
        Mode = mode;
        CandidatePercent = candidatePercent;
        KeyField = keyField;
        Salt = salt;
        KeyFieldUtf8 = System.Text.Encoding.UTF8.GetBytes(keyField);
        _saltHash = ArmBuckets.Hash(salt);
        _candidateBuckets = (int)Math.Round(candidatePercent * ArmBuckets.Count / 100);
    }

    public static ArmPolicy ControlOnly { get; } = new(ArmMode.ControlOnly, 0, EventFields.CorrelationId, string.Empty);

    public ArmMode Mode { get; }

    /// <summary>Share of keys routed to the candidate in <see cref="ArmMode.Split"/>, 0 to 100.</summary>
    public double CandidatePercent { get; }

    /// <summary>Event field whose value decides the arm in <see cref="ArmMode.Split"/>; an event without it goes to the control.</summary>
    public string KeyField { get; }

    /// <summary>The experiment's salt: a new experiment reshuffles every key, independently of earlier ones.</summary>
    public string Salt { get; }

    /// <summary>The key field as the JSON reader compares it; kept with the policy so a change of policy changes both at once.</summary>
    internal byte[] KeyFieldUtf8 { get; }

    /// <summary>
    /// Routes <paramref name="candidatePercent"/> percent of the values of <paramref name="keyField"/>
    /// to the candidate, bucketed under <paramref name="salt"/> by <see cref="ArmBuckets"/>.
    /// </summary>
    public static ArmPolicy Split(double candidatePercent, string keyField, string salt)
    {
        if (!(candidatePercent is >= 0 and <= 100))
        {
            throw new ArgumentOutOfRangeException(nameof(candidatePercent), candidatePercent, "the candidate's share must be between 0 and 100 percent");
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(keyField);
        ArgumentNullException.ThrowIfNull(salt);
        return new ArmPolicy(ArmMode.Split, candidatePercent, keyField, salt);
    }

    public static ArmPolicy Shadow() => new(ArmMode.Shadow, 0, EventFields.CorrelationId, string.Empty);

    /// <summary>The policy an experiment's candidate placement asks for (<see cref="ExperimentModes"/>).</summary>
    public static ArmPolicy Of(ExperimentCandidate candidate)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        return candidate.Mode switch
        {
            ExperimentModes.Split => Split(candidate.Percent, candidate.KeyField, candidate.Salt),
            ExperimentModes.Shadow => Shadow(),
            _ => throw new ArgumentException($"mode '{candidate.Mode}' is not '{ExperimentModes.Split}' or '{ExperimentModes.Shadow}'", nameof(candidate)),
        };
    }

    /// <summary>
    /// True when a key whose value hashes (<see cref="ArmBuckets.Hash(ReadOnlySpan{byte})"/>) to
    /// <paramref name="keyHash"/> goes to the candidate: its bucket under the salt lies in the
    /// candidate's share at the top of the range, as the control plane assigns devices and groups:
    /// arms in order, the control first, each taking its share of the buckets.
    /// </summary>
    public bool RoutesToCandidate(uint keyHash) => ArmBuckets.Bucket(keyHash, _saltHash) >= ArmBuckets.Count - _candidateBuckets;
}
