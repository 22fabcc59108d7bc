using System.Diagnostics;
using EdgePlatform.Benchmarks.Experiments;

// Usage: dotnet run -c Release --project tests/EdgePlatform.Benchmarks.Experiments -- [--smoke] [--figures docs/figures]
// Seeded simulations of the experiment statistics (every experiment draws from its own seed, so
// the figures are the same on any number of cores):
// 1. A/A with a look after every batch: the confidence sequence against a fixed-horizon test looked at as often.
// 2. Group assignment with intra-group correlation 0.1: devices treated as independent against the group-level delta method.
// 3. Sample-ratio mismatch: 55/45 arriving where 50/50 was configured, and a true 50/50.
// 4. A 2-point accuracy lift at the sample size the power calculator predicts.
// --smoke runs fewer experiments and exits 1 if a property does not hold.
var smoke = args.Contains("--smoke");
var figuresIndex = Array.IndexOf(args, "--figures");
var figures = figuresIndex >= 0 && figuresIndex + 1 < args.Length ? args[figuresIndex + 1] : null;
var clock = Stopwatch.StartNew();
var checks = new Checks();

var aa = Simulations.AaPeeking(experiments: smoke ? 300 : 1000, looks: 20, batchPerArm: 200, rate: 0.8, seed: 1);
aa.Print();
checks.Require(aa.SequentialRate <= 0.05, FormattableString.Invariant($"A/A: the sequential test's false-positive rate {aa.SequentialRate:P1} is at most 5 %"));
checks.Require(aa.FixedAnyLookRate >= 2 * Math.Max(aa.SequentialRate, 0.05), FormattableString.Invariant($"A/A: the fixed-horizon test looked at {aa.Looks} times is inflated ({aa.FixedAnyLookRate:P1}, over twice 5 %)"));

var clustered = Simulations.GroupAssignment(experiments: smoke ? 300 : 1000, groups: 100, minDevices: 10, maxDevices: 40, intraGroupCorrelation: 0.1, seed: 2);
clustered.Print();
checks.Require(clustered.DeviceLevelRate >= 0.15, FormattableString.Invariant($"groups: device-level analysis inflates false positives ({clustered.DeviceLevelRate:P1}, at least 15 %)"));
checks.Require(clustered.GroupLevelRate <= 0.085, FormattableString.Invariant($"groups: the group-level delta method stays near 5 % ({clustered.GroupLevelRate:P1}, at most 8.5 %)"));

var srm = Simulations.SampleRatio(runs: smoke ? 100 : 1000, checkEvery: 100, maxUnits: 20_000, seed: 3);
srm.Print();
checks.Require(srm.MismatchDetected == srm.Runs, FormattableString.Invariant($"SRM: a 55/45 arrival raised the alarm in every run ({srm.MismatchDetected} of {srm.Runs}) by {srm.MaxUnits} units"));
checks.Require(srm.MedianFirstAlarm is >= 300 and <= 3000, FormattableString.Invariant($"SRM: the 55/45 alarm's median sample size ({srm.MedianFirstAlarm}) lies near the expected 1,100"));
checks.Require(srm.NullFinalAlarmRate <= 0.01, FormattableString.Invariant($"SRM: a true 50/50 alarms at the final check in at most 1 % of runs ({srm.NullFinalAlarmRate:P1})"));

var power = Simulations.PowerCheck(experiments: smoke ? 300 : 1000, baseline: 0.80, lift: 0.02, seed: 4);
power.Print();
checks.Require(power.FixedDetectionAtPredicted is >= 0.72 and <= 0.88, FormattableString.Invariant($"power: the fixed-horizon test detects the lift at the predicted n in about 80 % of experiments ({power.FixedDetectionAtPredicted:P1})"));
checks.Require(power.SequentialDetectionAtPredicted < power.FixedDetectionAtPredicted, "power: the sequential test pays for its looks with less power at the predicted n");

if (figures is not null)
{
    Directory.CreateDirectory(figures);
    Figures.Write(Path.Combine(figures, "experiments-aa-peeking.svg"), aa.Figure());
    Figures.Write(Path.Combine(figures, "experiments-power.svg"), power.Figure());
    Console.WriteLine($"figures written to {figures}");
}

Console.WriteLine(FormattableString.Invariant($"simulated in {clock.Elapsed.TotalSeconds:0.0} s on {Environment.ProcessorCount} cores"));
return checks.Report();
