using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Experiments;

/// <summary>
/// A device the experiment placed: its arm, the unit it was assigned as, where it stands
/// (<see cref="ExperimentDeviceStates"/>), the model its desired state named before the
/// experiment took it (what stopping restores), and the desired version that placed it.
/// </summary>
public sealed record ExperimentDevice(
    string DeviceId,
    string Arm,
    string Unit,
    string State,
    ModelReference? Previous,
    long? DesiredVersion,
    string? Reason,
    DateTimeOffset UpdatedAt);

public static class ExperimentDeviceStates
{
    /// <summary>Its desired state names the experiment's arm.</summary>
    public const string Placed = "placed";

    /// <summary>A rollout or experiment of higher priority took it, or the selector no longer matches it.</summary>
    public const string Superseded = "superseded";

    /// <summary>The experiment stopped and pointed it back at its previous model (or left it to whoever took it meanwhile).</summary>
    public const string Restored = "restored";
}
