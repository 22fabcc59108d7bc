using EdgePlatform.Training.Data;

namespace EdgePlatform.Training.Tests.Data;

public sealed class KllSketchTests
{
    private static readonly double[] Probabilities = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Quantiles_OfAMillionShuffledValues_LieWithinTheStatedRankError(int seed)
    {
        var random = new Random(seed);
        var values = Enumerable.Range(0, 1_000_000).Select(_ => random.NextDouble() * 1000).ToArray();
        var sketch = new KllSketch(seed: seed);
        foreach (var value in values)
        {
            sketch.Add(value);
        }

        Array.Sort(values);
        AssertWithinRankError(sketch, values);

        // Bounded memory: a few times k items (about 4k: 3k in the levels, k in the input buffer) however long the stream.
        Assert.InRange(sketch.Retained, 1, 5 * sketch.K);
    }

    [Fact]
    public void Merge_OfTwoSketchesOverDifferentRanges_AnswersForTheUnion()
    {
        var random = new Random(7);
        var left = Enumerable.Range(0, 300_000).Select(_ => random.NextDouble()).ToArray();
        var right = Enumerable.Range(0, 200_000).Select(_ => 10 + (random.NextDouble() * 5)).ToArray();
        var a = new KllSketch(seed: 1);
        var b = new KllSketch(seed: 2);
        Array.ForEach(left, a.Add);
        Array.ForEach(right, b.Add);

        a.Merge(b);

        Assert.Equal(500_000, a.Count);
        var all = left.Concat(right).Order().ToArray();
        AssertWithinRankError(a, all);
        Assert.InRange(a.Retained, 1, 5 * a.K);
    }

    [Fact]
    public void Quantiles_OfFewerValuesThanK_AreExact()
    {
        var sketch = new KllSketch();
        foreach (var value in new[] { 5.0, 1, 4, 2, 3 })
        {
            sketch.Add(value);
        }

        Assert.Equal(1, sketch.Quantile(0));
        Assert.Equal(3, sketch.Quantile(0.5));
        Assert.Equal(5, sketch.Quantile(1));
        Assert.Equal(0.4, sketch.Rank(3), 12);
    }

    [Fact]
    public void RankError_ForTheDefaultK_IsDataSketchesFigure()
    {
        Assert.Equal(0.0133, new KllSketch().RankError, 0.0001);
    }

    private static void AssertWithinRankError(KllSketch sketch, double[] sorted)
    {
        var estimates = sketch.Quantiles(Probabilities);
        for (var i = 0; i < Probabilities.Length; i++)
        {
            // The true rank of the reported value, as a fraction: where it falls among the sorted values.
            var below = LowerBound(sorted, estimates[i]);
            var rank = (double)below / sorted.Length;
            Assert.True(
                Math.Abs(rank - Probabilities[i]) <= sketch.RankError,
                $"p{Probabilities[i] * 100}: reported {estimates[i]} has rank {rank:0.0000}, error {Math.Abs(rank - Probabilities[i]):0.0000} > {sketch.RankError:0.0000}");
        }
    }

    private static int LowerBound(double[] sorted, double value)
    {
        var index = Array.BinarySearch(sorted, value);
        if (index < 0)
        {
            return ~index;
        }

        while (index > 0 && sorted[index - 1] == value)
        {
            index--;
        }

        return index;
    }
}
