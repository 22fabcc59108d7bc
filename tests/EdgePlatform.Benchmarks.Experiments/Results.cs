using static System.FormattableString;

namespace EdgePlatform.Benchmarks.Experiments;

internal sealed record AaResult(int Experiments, int Looks, int BatchPerArm, double Rate, int[] FixedFirst, int[] SequentialFirst, int FixedFinalOnly)
{
    public double FixedAnyLookRate => FixedFirst.Count(l => l > 0) / (double)Experiments;

    public double SequentialRate => SequentialFirst.Count(l => l > 0) / (double)Experiments;

    public double FixedFinalRate => FixedFinalOnly / (double)Experiments;

    public void Print()
    {
        Console.WriteLine(Invariant($"A/A: {Experiments} experiments, accuracy {Rate} in both arms, {Looks} looks of {BatchPerArm} units per arm ({Looks * BatchPerArm} per arm at the end), two-proportion test, alpha 0.05"));
        Console.WriteLine("| test | looks | false positives | rate |");
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine(Invariant($"| fixed horizon, last look only | 1 | {FixedFinalOnly} | {FixedFinalRate:P1} |"));
        Console.WriteLine(Invariant($"| fixed horizon, every look | {Looks} | {FixedFirst.Count(l => l > 0)} | {FixedAnyLookRate:P1} |"));
        Console.WriteLine(Invariant($"| confidence sequence (n* = {2 * Looks * BatchPerArm}), every look | {Looks} | {SequentialFirst.Count(l => l > 0)} | {SequentialRate:P1} |"));
    }

    public Chart Figure() => new(
        "A/A: share of experiments ever declared significant by look k",
        "look (units per arm / " + BatchPerArm.ToString(System.Globalization.CultureInfo.InvariantCulture) + ")",
        "false-positive rate",
        [new("fixed horizon, every look", Cumulative(FixedFirst)), new("confidence sequence, every look", Cumulative(SequentialFirst))],
        0.05);

    private (double X, double Y)[] Cumulative(int[] first) =>
        [.. Enumerable.Range(1, Looks).Select(k => ((double)k, first.Count(l => l > 0 && l <= k) / (double)Experiments))];
}

internal sealed record GroupResult(int Experiments, int Groups, int MinDevices, int MaxDevices, double IntraGroupCorrelation, double DevicesPerExperiment, int DeviceLevelPositives, int GroupLevelPositives)
{
    public double DeviceLevelRate => DeviceLevelPositives / (double)Experiments;

    public double GroupLevelRate => GroupLevelPositives / (double)Experiments;

    public void Print()
    {
        // Kish's design effect with unequal group sizes: 1 + (Σm²/Σm − 1)ρ; sizes uniform on [a, b].
        var sizes = Enumerable.Range(MinDevices, MaxDevices - MinDevices + 1).Select(m => (double)m).ToArray();
        var weightedSize = sizes.Sum(m => m * m) / sizes.Sum();
        var designEffect = 1 + ((weightedSize - 1) * IntraGroupCorrelation);
        var predicted = 2 * EdgePlatform.ControlPlane.Experiments.Statistics.Distributions.NormalSurvival(1.959963984540054 / Math.Sqrt(designEffect));
        Console.WriteLine(Invariant($"Group assignment (A/A): {Experiments} experiments, {Groups} groups of {MinDevices}–{MaxDevices} devices ({DevicesPerExperiment:0} devices per experiment), intra-group correlation {IntraGroupCorrelation}, groups assigned by the salted bucket rule, alpha 0.05 fixed horizon"));
        Console.WriteLine("| analysis | unit | false positives | rate |");
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine(Invariant($"| Welch t, devices treated as independent | device | {DeviceLevelPositives} | {DeviceLevelRate:P1} (design effect {designEffect:0.00} predicts {predicted:P1}) |"));
        Console.WriteLine(Invariant($"| delta method, group as the unit | group | {GroupLevelPositives} | {GroupLevelRate:P1} |"));
    }
}

internal sealed record SampleRatioResultSummary(int Runs, int CheckEvery, int MaxUnits, int[] FirstAlarm, int NullAnyAlarm, int NullFinalAlarm)
{
    public int MismatchDetected => FirstAlarm.Count(n => n > 0);

    public int MedianFirstAlarm => Percentile(0.5);

    public double NullFinalAlarmRate => NullFinalAlarm / (double)Runs;

    public void Print()
    {
        Console.WriteLine(Invariant($"Sample-ratio mismatch: {Runs} runs, 50/50 configured, chi-square checked every {CheckEvery} arriving units up to {MaxUnits}, alarm at p < 0.001"));
        Console.WriteLine("| arrival | runs alarmed | units at first alarm: 10th / 50th / 90th percentile |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine(Invariant($"| 55/45 (treatment loses 18 % of its units) | {MismatchDetected} of {Runs} | {Percentile(0.1)} / {Percentile(0.5)} / {Percentile(0.9)} |"));
        Console.WriteLine(Invariant($"| 50/50, any of {MaxUnits / CheckEvery} checks | {NullAnyAlarm} of {Runs} ({NullAnyAlarm / (double)Runs:P1}) | |"));
        Console.WriteLine(Invariant($"| 50/50, one check at {MaxUnits} units | {NullFinalAlarm} of {Runs} ({NullFinalAlarmRate:P1}) | |"));
    }

    private int Percentile(double q)
    {
        var alarmed = FirstAlarm.Where(n => n > 0).Order().ToArray();
        return alarmed.Length == 0 ? -1 : alarmed[Math.Min(alarmed.Length - 1, (int)(q * alarmed.Length))];
    }
}

internal sealed record PowerResultSummary(int Experiments, double Baseline, double Lift, long Predicted, int Batch, int LooksToPredicted, int Looks, int[] FixedDetections, int[] SequentialFirst)
{
    public double FixedDetectionAtPredicted => FixedDetections[LooksToPredicted] / (double)Experiments;

    public double SequentialDetectionAtPredicted => SequentialBy(LooksToPredicted);

    public void Print()
    {
        Console.WriteLine(Invariant($"Power: accuracy {Baseline} against {Baseline + Lift:0.###}, {Experiments} experiments; the calculator (alpha 0.05, power 0.8, sd √(p(1−p)) = {Math.Sqrt(Baseline * (1 - Baseline)):0.000}) predicts {Predicted} units per arm; looks every {Batch} units per arm"));
        Console.WriteLine("| test | units per arm | detected (lower bound > 0) |");
        Console.WriteLine("|---|---|---|");
        foreach (var look in new[] { LooksToPredicted / 2, LooksToPredicted, 2 * LooksToPredicted })
        {
            Console.WriteLine(Invariant($"| fixed horizon, one look | {look * Batch} | {FixedDetections[look] / (double)Experiments:P1} |"));
        }

        foreach (var look in new[] { LooksToPredicted, 2 * LooksToPredicted, Looks })
        {
            Console.WriteLine(Invariant($"| confidence sequence (n* = {2 * Predicted}), a look every {Batch} | by {look * Batch} | {SequentialBy(look):P1} |"));
        }

        var eighty = Enumerable.Range(1, Looks).FirstOrDefault(k => SequentialBy(k) >= 0.8);
        var firsts = SequentialFirst.Where(l => l > 0).Order().ToArray();
        var median = firsts.Length > Experiments / 2 ? firsts[Experiments / 2] * Batch : -1;
        Console.WriteLine(Invariant($"the sequential test reaches 80 % detection by {(eighty > 0 ? (eighty * Batch).ToString(System.Globalization.CultureInfo.InvariantCulture) : "more than " + (Looks * Batch).ToString(System.Globalization.CultureInfo.InvariantCulture))} units per arm ({(eighty > 0 ? eighty * Batch / (double)Predicted : double.NaN):0.00}x the fixed-horizon n); its median first detection is at {median} units per arm"));
    }

    public Chart Figure() => new(
        Invariant($"Detecting accuracy {Baseline} → {Baseline + Lift:0.###}: predicted n = {Predicted} per arm"),
        "units per arm",
        "share of experiments detecting the lift",
        [
            new("fixed horizon, one look at n", [.. Enumerable.Range(1, Looks).Select(k => ((double)k * Batch, FixedDetections[k] / (double)Experiments))]),
            new("confidence sequence, detected by n", [.. Enumerable.Range(1, Looks).Select(k => ((double)k * Batch, SequentialBy(k)))]),
        ],
        0.8);

    private double SequentialBy(int look) => SequentialFirst.Count(l => l > 0 && l <= look) / (double)Experiments;
}
