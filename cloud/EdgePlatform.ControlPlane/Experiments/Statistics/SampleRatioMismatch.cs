namespace EdgePlatform.ControlPlane.Experiments.Statistics;

/// <summary>Pearson's chi-square of the units seen per arm against the configured shares; <see cref="Alarm"/> when p is below the threshold.</summary>
public sealed record SampleRatioResult(double ChiSquare, int DegreesOfFreedom, double PValue, bool Alarm);

/// <summary>
/// The sample-ratio-mismatch check: if units did not reach the arms in the configured shares,
/// something between assignment and telemetry is broken (a crashing arm, lost telemetry, a bad
/// hash) and no metric comparison can be trusted. The conventional alarm is p &lt; 0.001.
/// </summary>
public static class SampleRatioMismatch
{
    public const double DefaultAlarmBelow = 0.001;

    public static SampleRatioResult Check(IReadOnlyList<long> observed, IReadOnlyList<double> expectedShares, double alarmBelow = DefaultAlarmBelow)
    {
        ArgumentNullException.ThrowIfNull(observed);
        ArgumentNullException.ThrowIfNull(expectedShares);
        if (observed.Count != expectedShares.Count || observed.Count < 2)
        {
            throw new ArgumentException($"{observed.Count} observed counts need as many expected shares (got {expectedShares.Count}), at least two", nameof(expectedShares));
        }

        var total = observed.Sum();
        var shares = expectedShares.Sum();
        if (total == 0 || !(shares > 0))
        {
            return new SampleRatioResult(0, observed.Count - 1, 1, false);
        }

        var chi = 0.0;
        for (var i = 0; i < observed.Count; i++)
        {
            var expected = total * expectedShares[i] / shares;
            if (expected > 0)
            {
                chi += (observed[i] - expected) * (observed[i] - expected) / expected;
            }
            else if (observed[i] > 0)
            {
                // Units reached an arm configured to get none: no sample of the configured split could.
                return new SampleRatioResult(double.PositiveInfinity, observed.Count - 1, 0, true);
            }
        }

        var p = Distributions.ChiSquareSurvival(chi, observed.Count - 1);
        return new SampleRatioResult(chi, observed.Count - 1, p, p < alarmBelow);
    }
}
