namespace EdgePlatform.ControlPlane.Experiments.Statistics;

/// <summary>A percentile of merged latency histograms, read as HdrHistogram reads its own.</summary>
public static class LatencyPercentile
{
    /// <summary>
    /// The smallest recorded value at or below which at least <paramref name="percentile"/> % of the
    /// counts lie (the count at the percentile rounded to the nearest, at least 1); null when empty.
    /// </summary>
    public static double? Of(IReadOnlyDictionary<double, long> counts, double percentile)
    {
        ArgumentNullException.ThrowIfNull(counts);
        var total = counts.Values.Sum();
        if (total == 0)
        {
            return null;
        }

        var target = Math.Max(1, (long)((percentile / 100.0 * total) + 0.5));
        long seen = 0;
        foreach (var (value, count) in counts.OrderBy(p => p.Key))
        {
            seen += count;
            if (seen >= target)
            {
                return value;
            }
        }

        return counts.Keys.Max();
    }
}
