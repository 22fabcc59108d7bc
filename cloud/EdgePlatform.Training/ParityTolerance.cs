using System.Globalization;

namespace EdgePlatform.Training;

/// <summary>
/// How far ONNX Runtime's score or probability may be from ML.NET's for one row:
/// <c>|a − b| ≤ Absolute + Relative · max(|a|, |b|)</c>. Scores are raw margins held in float32,
/// whose steps grow with magnitude (one step is 1.9e-6 at 16–32, 3.8e-6 at 32–64), so a fixed
/// absolute bound that suits margins near 0 fails margins of 26 on one CPU and passes on another.
/// The relative part follows the float steps; the absolute part covers values near 0, where a
/// sum of many trees still carries the rounding of its larger partial sums.
/// </summary>
public sealed record ParityTolerance(double Absolute, double Relative)
{
    public const double DefaultAbsolute = 1e-5;

    /// <summary>
    /// About 80 float32 steps of the larger value: float rounding in a sum of a few hundred trees
    /// stays well inside it on every CPU, while a graph that computes something else (features in
    /// another order, a transform left out) misses it by orders of magnitude.
    /// </summary>
    public const double DefaultRelative = 1e-5;

    public const string Rule = "|trained - onnxRuntime| <= absolute + relative * max(|trained|, |onnxRuntime|)";

    public static ParityTolerance Default { get; } = new(DefaultAbsolute, DefaultRelative);

    public double Allowed(double trained, double onnxRuntime) =>
        Absolute + (Relative * Math.Max(Math.Abs(trained), Math.Abs(onnxRuntime)));

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Absolute:G3} + {Relative:G3} × magnitude");
}
