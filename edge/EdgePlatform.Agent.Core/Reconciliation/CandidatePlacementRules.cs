using System.Globalization;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Core.Reconciliation;

/// <summary>What a desired state's experiment candidate must carry before the device downloads anything for it.</summary>
internal static class CandidatePlacementRules
{
    /// <summary>The first field that is wrong and why, or null when the placement can be run.</summary>
    public static string? Problem(ExperimentCandidate placement)
    {
        if (string.IsNullOrWhiteSpace(placement.Arm))
        {
            return "arm: must name the experiment arm the candidate serves";
        }

        if (placement.Model is null)
        {
            return "model: the candidate names no model";
        }

        switch (placement.Mode)
        {
            case ExperimentModes.Shadow:
                return null;
            case ExperimentModes.Split:
                break;
            default:
                return $"mode: '{placement.Mode}' is not '{ExperimentModes.Split}' or '{ExperimentModes.Shadow}'";
        }

        if (!(placement.Percent is >= 0 and <= 100))
        {
            return string.Create(CultureInfo.InvariantCulture, $"percent: {placement.Percent} is not between 0 and 100");
        }

        if (string.IsNullOrWhiteSpace(placement.KeyField))
        {
            return "keyField: a split must name the event field whose value picks the arm";
        }

        return string.IsNullOrEmpty(placement.Salt) ? "salt: a split needs the experiment's salt, so keys land as the control plane assigns them" : null;
    }
}
