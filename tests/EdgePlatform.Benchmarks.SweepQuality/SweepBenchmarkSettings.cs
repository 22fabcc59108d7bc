using System.Globalization;

namespace EdgePlatform.Benchmarks.SweepQuality;

/// <summary>
/// What one run does; a bare run is the documented one: five of Weka's example datasets, two
/// minutes per dataset per side, 10-fold cross-validation, two trials (and two scikit-learn jobs)
/// at a time, and the scikit-learn peer required.
/// </summary>
internal sealed record SweepBenchmarkSettings(
    double BudgetSeconds,
    IReadOnlyList<string> Datasets,
    string DataDirectory,
    int Folds,
    int Parallel,
    bool Peer,
    bool RequirePeer)
{
    public const string WekaExamples = "/usr/share/doc/weka/examples";

    /// <summary>Binary (two of them), multiclass and regression, each read from Weka's own ARFF.</summary>
    public static readonly IReadOnlyList<string> DefaultDatasets = ["ionosphere", "vote", "breast-cancer", "segment-challenge", "cpu"];

    /// <summary>
    /// Seconds of run through the same code paths: a binary dataset with nominal features and
    /// missing values, and a regression one; 3 folds; the peer only when the machine has it.
    /// </summary>
    public static readonly SweepBenchmarkSettings Smoke = new(
        BudgetSeconds: 12, Datasets: ["vote", "cpu"], WekaExamples, Folds: 3, Parallel: 2, Peer: true, RequirePeer: false);

    public static SweepBenchmarkSettings Parse(string[] args)
    {
        var settings = new SweepBenchmarkSettings(120, DefaultDatasets, WekaExamples, Folds: 10, Parallel: 2, Peer: true, RequirePeer: true);
        var explicitOptions = new List<Func<SweepBenchmarkSettings, SweepBenchmarkSettings>>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--smoke":
                    settings = Smoke;
                    continue;
                case "--no-peer":
                    explicitOptions.Add(s => s with { Peer = false, RequirePeer = false });
                    continue;
                default:
                    break;
            }

            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"option '{args[i]}' needs a value");
            }

            var option = args[i];
            var value = args[++i];
            explicitOptions.Add(option switch
            {
                "--budget" => s => s with { BudgetSeconds = PositiveNumber(option, value) },
                "--datasets" => s => s with { Datasets = DatasetList(value) },
                "--data-dir" => s => s with { DataDirectory = value },
                "--folds" => s => s with { Folds = Whole(option, value, minimum: 2) },
                "--parallel" => s => s with { Parallel = Whole(option, value, minimum: 1) },
                _ => throw new ArgumentException($"unknown option '{option}'; known: --budget SECONDS, --datasets a,b,c, --data-dir DIR, --folds N, --parallel N, --no-peer, --smoke"),
            });
        }

        // --smoke sets the baseline wherever it appears; the other options refine it.
        return explicitOptions.Aggregate(settings, (current, apply) => apply(current));
    }

    private static string[] DatasetList(string value)
    {
        var names = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return names.Length > 0 ? names : throw new ArgumentException("--datasets needs at least one name (an ARFF file in --data-dir, without .arff) or path");
    }

    private static double PositiveNumber(string option, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n > 0 && double.IsFinite(n)
            ? n
            : throw new ArgumentException($"{option} must be a positive number of seconds, not '{value}'");

    private static int Whole(string option, string value, int minimum) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= minimum
            ? n
            : throw new ArgumentException($"{option} must be a whole number of at least {minimum}, not '{value}'");
}
