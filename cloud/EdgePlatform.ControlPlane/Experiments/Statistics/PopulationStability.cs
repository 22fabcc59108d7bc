using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Experiments.Statistics;

/// <summary>
/// Drift PSI recomputed from feature values counted in the baseline's decile bins, summed over any
/// records and devices. Each bin holds a tenth of the training data by construction, and shares
/// are smoothed as the agent smooths them: PSI = Σ (aᵢ − eᵢ) · ln(aᵢ / eᵢ), aᵢ and eᵢ each at
/// least <see cref="Smoothing"/> (README, "Telemetry and store-and-forward").
/// </summary>
public static class PopulationStability
{
    public const double Smoothing = 1e-4;

    /// <summary>The PSI of <paramref name="counts"/> (<see cref="QualityRecord.DriftBins"/> bins) against equal tenths; null when nothing was counted.</summary>
    public static double? FromDecileCounts(IReadOnlyList<long> counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        if (counts.Count != QualityRecord.DriftBins)
        {
            throw new ArgumentException($"{counts.Count} bins given, expected {QualityRecord.DriftBins}", nameof(counts));
        }

        var total = counts.Sum();
        if (total == 0)
        {
            return null;
        }

        const double expected = 1.0 / QualityRecord.DriftBins;
        var psi = 0.0;
        foreach (var count in counts)
        {
            var observed = Math.Max((double)count / total, Smoothing);
            psi += (observed - expected) * Math.Log(observed / expected);
        }

        return psi;
    }
}
