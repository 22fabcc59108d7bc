using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Experiments;

/// <summary>
/// Which arm a unit belongs to: the unit's salted bucket (<see cref="ArmBuckets"/>, the rule the
/// agent splits events by) against the arms' cumulative weights over <see cref="ArmBuckets.Count"/>
/// buckets. Pure and stable: the same unit and salt give the same arm in every process.
/// </summary>
public static class ExperimentAssignment
{
    public static string Arm(IReadOnlyList<ExperimentArm> arms, string unit, string salt)
    {
        ArgumentNullException.ThrowIfNull(arms);
        var bucket = ArmBuckets.Bucket(unit, salt);
        var total = arms.Sum(a => a.Weight);
        double cumulative = 0;
        for (var i = 0; i < arms.Count - 1; i++)
        {
            cumulative += arms[i].Weight;
            if (bucket < Math.Round(cumulative / total * ArmBuckets.Count))
            {
                return arms[i].Name;
            }
        }

        return arms[^1].Name;
    }

    /// <summary>
    /// The unit a device is assigned as: its id for device and event experiments, its group's tag
    /// value for group experiments; null when it has no such tag (it is not in the experiment).
    /// </summary>
    public static string? UnitOf(ExperimentInfo experiment, DeviceRecord device)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        ArgumentNullException.ThrowIfNull(device);
        return experiment.Unit == ExperimentUnits.Group
            ? device.Tags.TryGetValue(experiment.GroupTag!, out var group) && !string.IsNullOrEmpty(group) ? group : null
            : device.Id;
    }

    /// <summary>
    /// What the device's desired state carries: its arm's model for device and group experiments;
    /// for event experiments the control's model with the second arm as the candidate, splitting
    /// events by the key field in the arms' shares, or scoring every event in shadow.
    /// </summary>
    public static DeploymentSpec Deployment(ExperimentInfo experiment, string arm)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        if (experiment.Unit == ExperimentUnits.Event)
        {
            var control = experiment.Arms[0];
            var candidate = experiment.Arms[1];
            var shadow = experiment.Mode == ExperimentModes.Shadow;
            var percent = shadow ? 100 : candidate.Weight / (control.Weight + candidate.Weight) * 100;
            return new DeploymentSpec(experiment.Id, control.Model)
            {
                Experiment = new ExperimentPlacement(
                    experiment.Id,
                    control.Name,
                    new ExperimentCandidate(candidate.Name, candidate.Model, experiment.Mode ?? ExperimentModes.Split, percent, experiment.KeyField, experiment.Salt)),
            };
        }

        var model = experiment.Arms.First(a => a.Name == arm).Model;
        return new DeploymentSpec(experiment.Id, model) { Experiment = new ExperimentPlacement(experiment.Id, arm) };
    }
}
