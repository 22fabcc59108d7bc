using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Core.Telemetry;

/// <summary>
/// The ten bins a feature's drift is measured over, and the share of the training data in each.
/// Bins are the baseline's deciles, right-closed: (−∞, d1], (d1, d2], …, (d9, ∞). The edges are the
/// card's training-time deciles, or, for a card without them, the deciles of a normal distribution
/// with the baseline's mean and standard deviation.
/// </summary>
public sealed class DriftBins
{
    /// <summary>Shares below this count as this much, so an empty bin adds a large but finite term.</summary>
    public const double Smoothing = 1e-4;

    // Φ⁻¹(0.1), …, Φ⁻¹(0.9): the standard normal's deciles.
    private static readonly double[] NormalDeciles =
        [-1.2815515655446004, -0.8416212335729143, -0.5244005127080407, -0.2533471031357997, 0, 0.2533471031357997, 0.5244005127080407, 0.8416212335729143, 1.2815515655446004];

    private readonly double[] _edges;
    private readonly double[] _expected;

    private DriftBins(double[] edges, double[] expected)
    {
        _edges = edges;
        _expected = expected;
    }

    public IReadOnlyList<double> Edges => _edges;

    /// <summary>The training data's share in each bin.</summary>
    public IReadOnlyList<double> Expected => _expected;

    /// <summary>Bins for a feature's baseline; null when the baseline gives nothing to bin by (no finite mean).</summary>
    public static DriftBins? From(FeatureBaseline baseline)
    {
        ArgumentNullException.ThrowIfNull(baseline);
        if (baseline.DecileEdges is { Count: QualityRecord.DriftBins - 1 } deciles && IsUsable(deciles))
        {
            return FromEdges([.. deciles]);
        }

        if (!double.IsFinite(baseline.Mean))
        {
            return null;
        }

        if (!(baseline.StdDev > 0) || !double.IsFinite(baseline.StdDev))
        {
            // A constant in training: all of it sits at the mean, in the first bin.
            var edges = Enumerable.Repeat(baseline.Mean, QualityRecord.DriftBins - 1).ToArray();
            var expected = new double[QualityRecord.DriftBins];
            expected[0] = 1;
            return new DriftBins(edges, expected);
        }

        return FromEdges([.. NormalDeciles.Select(z => baseline.Mean + (z * baseline.StdDev))]);
    }

    /// <summary>The bin <paramref name="value"/> falls in: how many edges lie below it.</summary>
    public int BinOf(double value)
    {
        var low = 0;
        var high = _edges.Length;
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            if (_edges[middle] < value)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }

    /// <summary>
    /// PSI = Σ (aᵢ − eᵢ) · ln(aᵢ / eᵢ) over the bins, aᵢ the observed share and eᵢ the training share,
    /// each at least <see cref="Smoothing"/>. Null when nothing was observed.
    /// </summary>
    public double? Psi(ReadOnlySpan<long> counts)
    {
        long total = 0;
        foreach (var count in counts)
        {
            total += count;
        }

        if (total == 0)
        {
            return null;
        }

        double psi = 0;
        for (var i = 0; i < _expected.Length; i++)
        {
            var observed = Math.Max((double)counts[i] / total, Smoothing);
            var expected = Math.Max(_expected[i], Smoothing);
            psi += (observed - expected) * Math.Log(observed / expected);
        }

        return psi;
    }

    private static bool IsUsable(IReadOnlyList<double> edges)
    {
        for (var i = 0; i < edges.Count; i++)
        {
            if (!double.IsFinite(edges[i]) || (i > 0 && edges[i] < edges[i - 1]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// A tenth of the training data per decile bin; where deciles tie, the bins between the tied
    /// edges are empty by construction and their tenths belong to the bin that holds the tied value.
    /// </summary>
    private static DriftBins FromEdges(double[] edges)
    {
        var expected = new double[QualityRecord.DriftBins];
        var holder = 0;
        expected[0] = 1.0 / QualityRecord.DriftBins;
        for (var bin = 1; bin < expected.Length; bin++)
        {
            if (bin < expected.Length - 1 && edges[bin] == edges[bin - 1])
            {
                expected[holder] += 1.0 / QualityRecord.DriftBins;
                continue;
            }

            expected[bin] = 1.0 / QualityRecord.DriftBins;
            holder = bin;
        }

        return new DriftBins(edges, expected);
    }
}
