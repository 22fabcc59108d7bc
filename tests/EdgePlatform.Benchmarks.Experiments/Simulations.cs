using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Experiments.Statistics;

namespace EdgePlatform.Benchmarks.Experiments;

/// <summary>The simulations; each experiment draws from a generator seeded by its index, so results do not depend on scheduling.</summary>
internal static class Simulations
{
    private const double Alpha = 0.05;

    public static AaResult AaPeeking(int experiments, int looks, int batchPerArm, double rate, int seed)
    {
        var fixedFirst = new int[experiments];
        var sequentialFirst = new int[experiments];
        var fixedFinal = new bool[experiments];
        var fixedOptions = new TestOptions { Alpha = Alpha, Sequential = false };
        var sequentialOptions = new TestOptions { Alpha = Alpha, Sequential = true, SequentialTuning = 2.0 * looks * batchPerArm };
        Parallel.For(0, experiments, i =>
        {
            var random = new Random(Seed(seed, i));
            long control = 0, treatment = 0, n = 0;
            fixedFirst[i] = sequentialFirst[i] = -1;
            for (var look = 1; look <= looks; look++)
            {
                control += Successes(random, batchPerArm, rate);
                treatment += Successes(random, batchPerArm, rate);
                n += batchPerArm;
                var fixedResult = TwoSampleTests.TwoProportion(control, n, treatment, n, EffectScale.Absolute, fixedOptions);
                var sequential = TwoSampleTests.TwoProportion(control, n, treatment, n, EffectScale.Absolute, sequentialOptions);
                if (fixedResult.Significant && fixedFirst[i] < 0)
                {
                    fixedFirst[i] = look;
                }

                if (sequential.Significant && sequentialFirst[i] < 0)
                {
                    sequentialFirst[i] = look;
                }

                fixedFinal[i] = look == looks && fixedResult.Significant;
            }
        });
        return new AaResult(experiments, looks, batchPerArm, rate, fixedFirst, sequentialFirst, fixedFinal.Count(f => f));
    }

    public static GroupResult GroupAssignment(int experiments, int groups, int minDevices, int maxDevices, double intraGroupCorrelation, int seed)
    {
        var deviceLevel = new bool[experiments];
        var groupLevel = new bool[experiments];
        var options = new TestOptions { Alpha = Alpha, Sequential = false };
        var groupSd = Math.Sqrt(intraGroupCorrelation);
        var deviceSd = Math.Sqrt(1 - intraGroupCorrelation);
        long devices = 0;
        Parallel.For(0, experiments, i =>
        {
            var random = new Random(Seed(seed, i));
            var salt = $"group-experiment-{seed}-{i}";
            SampleMoments[] deviceArms = [default, default];
            RatioMoments[] groupArms = [default, default];
            for (var g = 0; g < groups; g++)
            {
                // Assigned as the control plane assigns groups: the group's tag value, salted, into buckets.
                var arm = ArmBuckets.Bucket($"site-{g}", salt) < ArmBuckets.Count / 2 ? 0 : 1;
                var size = random.Next(minDevices, maxDevices + 1);
                var shared = groupSd * Normal(random);
                var sum = 0.0;
                for (var d = 0; d < size; d++)
                {
                    var value = shared + (deviceSd * Normal(random));
                    deviceArms[arm] = deviceArms[arm].Add(value);
                    sum += value;
                }

                groupArms[arm] = groupArms[arm].Add(sum, size);
                Interlocked.Add(ref devices, size);
            }

            deviceLevel[i] = TwoSampleTests.Welch(deviceArms[0], deviceArms[1], EffectScale.Absolute, options).Significant;
            groupLevel[i] = TwoSampleTests.DeltaMethodRatio(groupArms[0], groupArms[1], EffectScale.Absolute, options).Significant;
        });
        return new GroupResult(experiments, groups, minDevices, maxDevices, intraGroupCorrelation, (double)devices / experiments, deviceLevel.Count(s => s), groupLevel.Count(s => s));
    }

    public static SampleRatioResultSummary SampleRatio(int runs, int checkEvery, int maxUnits, int seed)
    {
        var deviceHashes = Enumerable.Range(0, maxUnits * 2).Select(u => ArmBuckets.Hash($"device-{u}")).ToArray();
        var firstAlarm = new int[runs];
        var nullAnyAlarm = new bool[runs];
        var nullFinalAlarm = new bool[runs];
        double[] configured = [0.5, 0.5];

        // A broken treatment arm whose telemetry loses 1 − 45/55 of its units turns a 50/50 assignment into a 55/45 arrival.
        const double treatmentKept = 45.0 / 55.0;
        Parallel.For(0, runs, r =>
        {
            var random = new Random(Seed(seed, r));
            var saltHash = ArmBuckets.Hash($"srm-{seed}-{r}");
            firstAlarm[r] = Arrive(random, saltHash, treatmentKept, stopAtAlarm: true, out _);
            nullAnyAlarm[r] = Arrive(random, saltHash, 1, stopAtAlarm: true, out _) > 0;
            Arrive(random, saltHash, 1, stopAtAlarm: false, out nullFinalAlarm[r]);
        });

        int Arrive(Random random, uint saltHash, double kept, bool stopAtAlarm, out bool finalAlarm)
        {
            long[] arrived = [0, 0];
            finalAlarm = false;
            for (int u = 0, total = 0; u < deviceHashes.Length && total < maxUnits; u++)
            {
                var arm = ArmBuckets.Bucket(deviceHashes[u], saltHash) < ArmBuckets.Count / 2 ? 0 : 1;
                if (arm == 1 && kept < 1 && random.NextDouble() >= kept)
                {
                    continue;
                }

                arrived[arm]++;
                total++;
                if (total % checkEvery == 0)
                {
                    var alarm = SampleRatioMismatch.Check(arrived, configured).Alarm;
                    if (alarm && stopAtAlarm)
                    {
                        return total;
                    }

                    finalAlarm = alarm;
                }
            }

            return -1;
        }

        return new SampleRatioResultSummary(runs, checkEvery, maxUnits, firstAlarm, nullAnyAlarm.Count(a => a), nullFinalAlarm.Count(a => a));
    }

    public static PowerResultSummary PowerCheck(int experiments, double baseline, double lift, int seed)
    {
        const double targetPower = 0.8;
        const int looksToPredicted = 10;
        const int looks = 3 * looksToPredicted;
        var predicted = PowerAnalysis.UnitsPerArm(PowerAnalysis.RateStandardDeviation(baseline), lift, Alpha, targetPower, arms: 2);
        var batch = (int)Math.Ceiling(predicted / (double)looksToPredicted);
        var fixedOptions = new TestOptions { Alpha = Alpha, Sequential = false };
        var sequentialOptions = new TestOptions { Alpha = Alpha, Sequential = true, SequentialTuning = 2.0 * predicted };
        var fixedDetections = new int[looks + 1];
        var sequentialFirst = new int[experiments];
        Parallel.For(0, experiments, i =>
        {
            var random = new Random(Seed(seed, i));
            long control = 0, treatment = 0, n = 0;
            sequentialFirst[i] = -1;
            for (var look = 1; look <= looks; look++)
            {
                control += Successes(random, batch, baseline);
                treatment += Successes(random, batch, baseline + lift);
                n += batch;
                var fixedResult = TwoSampleTests.TwoProportion(control, n, treatment, n, EffectScale.Absolute, fixedOptions);
                if (fixedResult.Lower > 0)
                {
                    Interlocked.Increment(ref fixedDetections[look]);
                }

                if (sequentialFirst[i] < 0 && TwoSampleTests.TwoProportion(control, n, treatment, n, EffectScale.Absolute, sequentialOptions).Lower > 0)
                {
                    sequentialFirst[i] = look;
                }
            }
        });
        return new PowerResultSummary(experiments, baseline, lift, predicted, batch, looksToPredicted, looks, fixedDetections, sequentialFirst);
    }

    private static int Seed(int simulation, int experiment) => unchecked((simulation * 1_000_003) + experiment);

    private static long Successes(Random random, int trials, double rate)
    {
        long successes = 0;
        for (var t = 0; t < trials; t++)
        {
            successes += random.NextDouble() < rate ? 1 : 0;
        }

        return successes;
    }

    /// <summary>A standard normal draw (Box–Muller).</summary>
    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
