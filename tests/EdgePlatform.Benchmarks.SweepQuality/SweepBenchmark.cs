using System.Globalization;
using EdgePlatform.Contracts;

namespace EdgePlatform.Benchmarks.SweepQuality;

/// <summary>
/// The sweep's quality against scikit-learn at the same wall budget: for each dataset, our sweep
/// (10-fold cross-validated, the task's default metric) and then the peer, one after the other so
/// neither shares the CPU with the other, and a Markdown table of both best validated scores.
/// A side that does not beat the trivial model (AUC 0.5, macro accuracy 1/classes, RMSE of the
/// mean) fails the run: a benchmark whose search learned nothing has no figures to report.
/// </summary>
internal static class SweepBenchmark
{
    public static async Task<int> RunAsync(SweepBenchmarkSettings settings, CancellationToken cancellationToken)
    {
        var datasets = new List<WekaDataset>();
        foreach (var name in settings.Datasets)
        {
            try
            {
                datasets.Add(WekaDataset.Open(name, settings.DataDirectory));
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException)
            {
                Console.Error.WriteLine(ex.Message);
                return 1;
            }
        }

        var peerMissing = settings.Peer ? SklearnPeer.Unavailable() : "--no-peer";
        if (peerMissing is not null && settings.RequirePeer)
        {
            Console.Error.WriteLine($"the scikit-learn peer cannot run: {peerMissing}; install it, or pass --no-peer");
            return 1;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"machine: {Environment.ProcessorCount} CPUs, load {LoadAverage()}; budget {settings.BudgetSeconds:0.#} s per dataset per side, {settings.Folds}-fold CV, {settings.Parallel} trials (scikit-learn jobs) at a time"));
        if (peerMissing is not null)
        {
            Console.WriteLine($"scikit-learn peer: skipped ({peerMissing})");
        }

        var rows = new List<(WekaDataset Dataset, SideResult Ours, SideResult? Peer)>();
        foreach (var dataset in datasets)
        {
            Console.WriteLine($"{dataset.Name}: {dataset.Rows} rows, {dataset.Info.Columns.Count} features, {dataset.Task}, {dataset.Metric}; sweep starting (load {LoadAverage()})");
            var ours = await OurSweep.RunAsync(dataset, settings, cancellationToken).ConfigureAwait(false);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{dataset.Name}: sweep {Score(ours.Score)} after {ours.Trials} trials ({ours.Failed} failed) in {ours.WallSeconds:0.0} s; best {ours.Detail}"));
            SideResult? peer = null;
            if (peerMissing is null)
            {
                Console.WriteLine($"{dataset.Name}: scikit-learn starting (load {LoadAverage()})");
                peer = await SklearnPeer.RunAsync(dataset, settings, cancellationToken).ConfigureAwait(false);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{dataset.Name}: scikit-learn {Score(peer.Score)} after {peer.Trials} fits in {peer.WallSeconds:0.0} s; best {peer.Detail}"));
            }

            rows.Add((dataset, ours, peer));
        }

        Report(rows);
        return Check(rows);
    }

    private static void Report(List<(WekaDataset Dataset, SideResult Ours, SideResult? Peer)> rows)
    {
        Console.WriteLine();
        Console.WriteLine("| dataset | task | rows | metric | sweep | trials | sweep's best trainer | wall s | scikit-learn | CV fits | wall s | sweep − scikit-learn | sweep equal or better |");
        Console.WriteLine("|---|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---|");
        foreach (var (dataset, ours, peer) in rows)
        {
            var difference = peer is null ? "-" : (ours.Score - peer.Score).ToString("+0.0000;-0.0000;0.0000", CultureInfo.InvariantCulture);
            var verdict = peer is null ? "-" : AtLeastAsGood(dataset.Metric, ours.Score, peer.Score) ? "yes" : "**no**";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {dataset.Name} | {dataset.Task} | {dataset.Rows} | {dataset.Metric} | {Score(ours.Score)} | {ours.Trials} | {ours.Best} | {ours.WallSeconds:0.0} | {(peer is null ? "-" : Score(peer.Score))} | {peer?.Trials.ToString(CultureInfo.InvariantCulture) ?? "-"} | {peer?.WallSeconds.ToString("0.0", CultureInfo.InvariantCulture) ?? "-"} | {difference} | {verdict} |"));
        }

        var compared = rows.Where(r => r.Peer is not null).ToList();
        if (compared.Count > 0)
        {
            var behind = compared.Where(r => !AtLeastAsGood(r.Dataset.Metric, r.Ours.Score, r.Peer!.Score)).Select(r => r.Dataset.Name).ToList();
            Console.WriteLine(behind.Count == 0
                ? $"sweep equal or better than scikit-learn on all {compared.Count} datasets"
                : $"sweep equal or better than scikit-learn on {compared.Count - behind.Count} of {compared.Count} datasets; behind on {string.Join(", ", behind)}");
        }
    }

    private static int Check(List<(WekaDataset Dataset, SideResult Ours, SideResult? Peer)> rows)
    {
        var failures = new List<string>();
        foreach (var (dataset, ours, peer) in rows)
        {
            if (!dataset.BeatsTrivial(ours.Score))
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{dataset.Name}: the sweep's best {dataset.Metric} {Score(ours.Score)} ({ours.Trials} trials) does not beat a model that learned nothing ({dataset.TrivialScore:0.0000})"));
            }

            if (peer is not null && !dataset.BeatsTrivial(peer.Score))
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{dataset.Name}: scikit-learn's best {dataset.Metric} {Score(peer.Score)} does not beat a model that learned nothing ({dataset.TrivialScore:0.0000}); the peer is misconfigured"));
            }
        }

        foreach (var failure in failures)
        {
            Console.Error.WriteLine(failure);
        }

        if (failures.Count > 0)
        {
            return 1;
        }

        Console.WriteLine("every search beat the trivial model on every dataset");
        return 0;
    }

    private static bool AtLeastAsGood(string metric, double ours, double peer) =>
        SweepMetrics.HigherIsBetter(metric) ? ours >= peer : ours <= peer;

    private static string Score(double score) => double.IsFinite(score) ? score.ToString("0.0000", CultureInfo.InvariantCulture) : "none";

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]) : "unknown";
}
