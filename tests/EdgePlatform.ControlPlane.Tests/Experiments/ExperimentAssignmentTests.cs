using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Experiments;

namespace EdgePlatform.ControlPlane.Tests.Experiments;

public sealed class ExperimentAssignmentTests
{
    private static readonly ModelReference Model = new("models/m", "m", "1", "sha256:" + new string('1', 64), 10, "sig");

    [Fact]
    public void Arm_SameUnitAndSalt_SameArmEveryCall()
    {
        ExperimentArm[] arms = [new("a", Model, 1), new("b", Model, 1)];

        var first = Enumerable.Range(0, 100).Select(i => ExperimentAssignment.Arm(arms, $"dev-{i}", "salt-1")).ToList();
        var again = Enumerable.Range(0, 100).Select(i => ExperimentAssignment.Arm(arms, $"dev-{i}", "salt-1")).ToList();

        Assert.Equal(first, again);
    }

    [Fact]
    public void Arm_TenThousandDevicesWeighted70To20To10_SharesWithinTolerance()
    {
        ExperimentArm[] arms = [new("a", Model, 7), new("b", Model, 2), new("c", Model, 1)];

        var counts = Enumerable.Range(0, 10_000).Select(i => ExperimentAssignment.Arm(arms, $"dev-{i}", "salt-w")).CountBy(a => a).ToDictionary();

        // Binomial standard deviation at 10,000 is under 0.5 %; 1.5 % is three of them.
        Assert.InRange(counts["a"] / 10_000.0, 0.685, 0.715);
        Assert.InRange(counts["b"] / 10_000.0, 0.185, 0.215);
        Assert.InRange(counts["c"] / 10_000.0, 0.085, 0.115);
    }

    [Fact]
    public void Arm_NewSalt_ReshufflesAboutHalfTheUnits()
    {
        ExperimentArm[] arms = [new("a", Model, 1), new("b", Model, 1)];

        var moved = Enumerable.Range(0, 10_000).Count(i => ExperimentAssignment.Arm(arms, $"dev-{i}", "salt-1") != ExperimentAssignment.Arm(arms, $"dev-{i}", "salt-2"));

        Assert.InRange(moved / 10_000.0, 0.47, 0.53);
    }
}
