namespace EdgePlatform.ControlPlane.Tests.Experiments.Statistics;

/// <summary>Floats compared with a tolerance relative to the expected value's size (absolute when it is 0).</summary>
internal static class Close
{
    public static void Assert(double expected, double actual, double tolerance)
    {
        var scale = expected == 0 ? 1 : Math.Abs(expected);
        var error = Math.Abs(actual - expected) / scale;
        Xunit.Assert.True(error <= tolerance, $"expected {expected:R}, got {actual:R} (relative error {error:E2}, allowed {tolerance:E0})");
    }

    /// <summary>For values published rounded to <paramref name="decimals"/> places: the actual value rounds to them.</summary>
    public static void Rounded(double expected, double actual, int decimals)
    {
        var allowed = 0.5 * Math.Pow(10, -decimals) * (1 + 1e-9);
        Xunit.Assert.True(Math.Abs(actual - expected) <= allowed, $"expected {expected:R} to {decimals} places, got {actual:R}");
    }
}
