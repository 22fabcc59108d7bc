using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Inference.Tests.Engine;

public sealed class ArmPolicyTests
{
    private const int Keys = 20_000;

    [Theory]
    [InlineData(10.0)]
    [InlineData(25.0)]
    [InlineData(50.0)]
    public void RoutesToCandidate_ManyKeys_SendsAboutTheConfiguredPercent(double percent)
    {
        var policy = ArmPolicy.Split(percent, EventFields.CorrelationId, "exp-7f3a");

        var share = 100.0 * Enumerable.Range(0, Keys).Count(i => policy.RoutesToCandidate(ArmBuckets.Hash($"event-{i}"))) / Keys;

        // Four binomial standard deviations of the share, in percent.
        var tolerance = 4 * 100 * Math.Sqrt(percent / 100 * (1 - percent / 100) / Keys);
        Assert.InRange(share, percent - tolerance, percent + tolerance);
    }

    [Fact]
    public void RoutesToCandidate_EveryKey_FollowsTheSharedBucketRuleWithTheSalt()
    {
        const string Salt = "exp-7f3a";
        var policy = ArmPolicy.Split(30, "line", Salt);

        for (var i = 0; i < 2_000; i++)
        {
            var key = $"unit-{i}";
            Assert.Equal(ArmBuckets.Bucket(key, Salt) >= ArmBuckets.Count - 3_000, policy.RoutesToCandidate(ArmBuckets.Hash(key)));
        }
    }

    [Fact]
    public void RoutesToCandidate_AnotherSalt_ReshufflesTheKeys()
    {
        var first = ArmPolicy.Split(50, EventFields.CorrelationId, "exp-1");
        var second = ArmPolicy.Split(50, EventFields.CorrelationId, "exp-2");

        var agree = Enumerable.Range(0, Keys)
            .Select(i => ArmBuckets.Hash($"event-{i}"))
            .Count(hash => first.RoutesToCandidate(hash) == second.RoutesToCandidate(hash));

        // Independent assignments agree on about half the keys; the same salt would agree on all.
        var tolerance = 4 * Math.Sqrt(0.25 * Keys);
        Assert.InRange(agree, Keys / 2 - tolerance, Keys / 2 + tolerance);
    }

    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(100.0, Keys)]
    public void RoutesToCandidate_NoneOrAll_IsExact(double percent, int expected)
    {
        var policy = ArmPolicy.Split(percent, EventFields.CorrelationId, "exp-7f3a");

        Assert.Equal(expected, Enumerable.Range(0, Keys).Count(i => policy.RoutesToCandidate(ArmBuckets.Hash($"event-{i}"))));
    }

    [Fact]
    public void Of_SplitPlacement_CarriesPercentKeyFieldAndSalt()
    {
        var reference = new ModelReference("models", "sensor-anomaly", "2.0.0", "sha256:00", 10, "sig");

        var policy = ArmPolicy.Of(new ExperimentCandidate("treatment", reference, ExperimentModes.Split, 20, "line", "exp-9"));

        Assert.Equal((ArmMode.Split, 20.0, "line", "exp-9"), (policy.Mode, policy.CandidatePercent, policy.KeyField, policy.Salt));
        Assert.Equal(ArmMode.Shadow, ArmPolicy.Of(new ExperimentCandidate("treatment", reference, ExperimentModes.Shadow, 0, "id", "exp-9")).Mode);
    }

    [Fact]
    public void Of_UnknownMode_SaysWhichModesExist()
    {
        var reference = new ModelReference("models", "sensor-anomaly", "2.0.0", "sha256:00", 10, "sig");

        var error = Assert.Throws<ArgumentException>(() => ArmPolicy.Of(new ExperimentCandidate("treatment", reference, "canary", 20, "line", "exp-9")));

        Assert.Contains("'canary' is not 'split' or 'shadow'", error.Message, StringComparison.Ordinal);
    }
}
