using System.Collections.Concurrent;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

/// <summary>The durable trial queue: one holder per lease, heartbeats, expiry, and each result recorded exactly once.</summary>
public abstract class SweepQueueContract(StoreProvider provider) : StoreContract(provider)
{
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(15);

    private static SweepRecord Sweep(string id, string status = SweepStatuses.Running) => new(
        id,
        new SweepSpec { Dataset = "iris@1", MaxTrials = 100 },
        status,
        new DatasetInfo("iris@1", "sha256:" + new string('a', 64), 150, ["a", "b"], "label", Start),
        "iris",
        "tester",
        Start);

    private static TrialRecord Trial(string sweepId, int number, string trainer = "lightgbm", double learningRate = 0.1) => new(
        sweepId, number, trainer, new Dictionary<string, double> { ["learningRate"] = learningRate, ["trees"] = 50 }, 1, 42, TrialStatuses.Queued, 0, Start.AddMilliseconds(number));

    private static TrialResultRecord Result(double score) => new(score, new Dictionary<string, double> { ["auc"] = score, ["log-loss"] = 1 - score }, 1.5, "log", null, Start.AddMinutes(1));

    private async Task<ISweepStore> StoreWithTrialsAsync(string sweepId, int count)
    {
        var store = Stores.Sweeps;
        await store.AddSweepAsync(Sweep(sweepId), CancellationToken.None);
        for (var number = 1; number <= count; number++)
        {
            await store.AddTrialAsync(Trial(sweepId, number), CancellationToken.None);
        }

        return store;
    }

    [Fact]
    public async Task LeaseTrialAsync_ManyWorkersOnTwoReplicasRacing_ReplicasGetDisjointTrialsAndEachTrialOnce()
    {
        const int trials = 60;
        var first = await StoreWithTrialsAsync("s1", trials);
        using var replica = OpenAnotherReplica();
        var second = replica.Sweeps;
        var leased = new ConcurrentBag<(int Number, string Worker)>();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            var store = w % 2 == 0 ? first : second;
            while (await store.LeaseTrialAsync($"w{w}", "build", Start, Start + Lease, CancellationToken.None) is { } trial)
            {
                Assert.Equal(1, trial.Attempt);
                Assert.Equal(TrialStatuses.Leased, trial.Status);
                leased.Add((trial.Number, $"w{w}"));
            }
        })));

        Assert.Equal(Enumerable.Range(1, trials), leased.Select(l => l.Number).Order());
        var byReplica = leased.ToLookup(l => int.Parse(l.Worker[1..], System.Globalization.CultureInfo.InvariantCulture) % 2, l => l.Number);
        Assert.Empty(byReplica[0].Intersect(byReplica[1]));
        foreach (var (number, worker) in leased)
        {
            var stored = await first.GetTrialAsync("s1", number, CancellationToken.None);
            Assert.Equal(worker, stored!.WorkerId);
        }
    }

    [Fact]
    public async Task CompleteTrialAsync_LateResultFromLostLeaseAndSecondReport_RefusedSoOneResultIsRecorded()
    {
        var store = await StoreWithTrialsAsync("s1", 1);
        var lost = await store.LeaseTrialAsync("dead", "build", Start, Start + Lease, CancellationToken.None);
        Assert.Equal(1, lost!.Attempt);

        // The first holder stops heartbeating; after its lease expires the trial is leased again.
        var later = Start + Lease + TimeSpan.FromSeconds(1);
        var again = await store.LeaseTrialAsync("alive", "build", later, later + Lease, CancellationToken.None);
        Assert.Equal(2, again!.Attempt);
        Assert.Equal(1, again.Number);

        Assert.False(await store.CompleteTrialAsync("s1", 1, "dead", 1, Result(0.5), CancellationToken.None));
        Assert.True(await store.CompleteTrialAsync("s1", 1, "alive", 2, Result(0.9), CancellationToken.None));
        Assert.False(await store.CompleteTrialAsync("s1", 1, "alive", 2, Result(0.1), CancellationToken.None));

        var stored = await store.GetTrialAsync("s1", 1, CancellationToken.None);
        Assert.Equal(TrialStatuses.Succeeded, stored!.Status);
        Assert.Equal(0.9, stored.Score!.Value, 12);
        Assert.Equal("alive", stored.WorkerId);
        Assert.Equal(1, stored.CompletionSequence);
        Assert.Single(await store.ListCompletedSinceAsync("s1", 0, CancellationToken.None));
    }

    [Fact]
    public async Task ExtendLeaseAsync_HeartbeatsKeepTheLease_WithoutThemItExpiresAndReturnsToTheQueue()
    {
        var store = await StoreWithTrialsAsync("s1", 1);
        var trial = await store.LeaseTrialAsync("w1", "build", Start, Start + Lease, CancellationToken.None);
        Assert.NotNull(trial);

        // Heartbeats past the first expiry keep it leased.
        var beat = Start + TimeSpan.FromSeconds(10);
        Assert.True(await store.ExtendLeaseAsync("s1", 1, "w1", 1, beat + Lease, CancellationToken.None));
        Assert.False(await store.ExtendLeaseAsync("s1", 1, "w2", 1, beat + Lease, CancellationToken.None));
        Assert.Equal(0, await store.RequeueExpiredAsync(Start + Lease + TimeSpan.FromSeconds(1), CancellationToken.None));
        Assert.Null(await store.LeaseTrialAsync("w2", "build", Start + Lease + TimeSpan.FromSeconds(1), Start + Lease + Lease, CancellationToken.None));

        // Silence past the extended expiry: queued again, and the old holder's heartbeat is refused.
        Assert.Equal(1, await store.RequeueExpiredAsync(beat + Lease + TimeSpan.FromSeconds(1), CancellationToken.None));
        Assert.False(await store.ExtendLeaseAsync("s1", 1, "w1", 1, beat + Lease + Lease, CancellationToken.None));
        Assert.Equal(TrialStatuses.Queued, (await store.GetTrialAsync("s1", 1, CancellationToken.None))!.Status);
        Assert.Equal(1, await store.CountQueuedAsync(CancellationToken.None));
    }

    [Fact]
    public async Task CancelTrialsAsync_StoppedSweep_HeartbeatsAndResultsRefusedAndNothingLeased()
    {
        var store = await StoreWithTrialsAsync("s1", 3);
        Assert.NotNull(await store.LeaseTrialAsync("w1", "build", Start, Start + Lease, CancellationToken.None));
        await store.UpdateSweepAsync(Sweep("s1", SweepStatuses.Stopped), CancellationToken.None);
        Assert.Equal(3, await store.CancelTrialsAsync("s1", includeLeased: true, Start, CancellationToken.None));

        Assert.False(await store.ExtendLeaseAsync("s1", 1, "w1", 1, Start + Lease, CancellationToken.None));
        Assert.False(await store.CompleteTrialAsync("s1", 1, "w1", 1, Result(0.9), CancellationToken.None));
        Assert.Null(await store.LeaseTrialAsync("w1", "build", Start, Start + Lease, CancellationToken.None));
        Assert.All(await store.ListTrialsAsync("s1", CancellationToken.None), t => Assert.Equal(TrialStatuses.Cancelled, t.Status));
    }

    [Fact]
    public async Task LeaseTrialAsync_QueuedTrialOfAStoppedSweep_IsNotLeased()
    {
        var store = await StoreWithTrialsAsync("s1", 1);
        await store.AddSweepAsync(Sweep("s2") with { Status = SweepStatuses.Stopped }, CancellationToken.None);
        await store.AddTrialAsync(Trial("s2", 1) with { CreatedAt = Start.AddDays(-1) }, CancellationToken.None);

        var trial = await store.LeaseTrialAsync("w1", "build", Start, Start + Lease, CancellationToken.None);
        Assert.Equal("s1", trial!.SweepId);
        Assert.Null(await store.LeaseTrialAsync("w1", "build", Start, Start + Lease, CancellationToken.None));
    }

    [Fact]
    public async Task QueryTrialsAsync_ByTrainerScoreParameterAndMetric_FiltersSortsAndPages()
    {
        var store = Stores.Sweeps;
        await store.AddSweepAsync(Sweep("s1"), CancellationToken.None);
        for (var number = 1; number <= 20; number++)
        {
            await store.AddTrialAsync(Trial("s1", number, number % 2 == 0 ? "lightgbm" : "fasttree", number / 100.0), CancellationToken.None);
            var leased = await store.LeaseTrialAsync("w1", "build", Start, Start + Lease, CancellationToken.None);
            Assert.True(await store.CompleteTrialAsync("s1", leased!.Number, "w1", 1, Result(number / 20.0), CancellationToken.None));
        }

        var (lightgbm, total) = await store.QueryTrialsAsync("s1", new TrialQuery(Trainer: "lightgbm", MinScore: 0.5, Sort: "score", Descending: true), CancellationToken.None);
        Assert.Equal(6, total);
        Assert.Equal([20, 18, 16, 14, 12, 10], lightgbm.Select(t => t.Number));

        var (byParameter, _) = await store.QueryTrialsAsync("s1", new TrialQuery(Parameter: "learningRate", ParameterMin: 0.045, ParameterMax: 0.075), CancellationToken.None);
        Assert.Equal([5, 6, 7], byParameter.Select(t => t.Number));

        // log-loss = 1 - score, so ascending log-loss is descending score; a dash in the name is one key.
        var (page, all) = await store.QueryTrialsAsync("s1", new TrialQuery(Sort: "log-loss", Offset: 2, Limit: 3), CancellationToken.None);
        Assert.Equal(20, all);
        Assert.Equal([18, 17, 16], page.Select(t => t.Number));
    }
}

public sealed class SqliteSweepQueueTests() : SweepQueueContract(StoreProvider.Sqlite);

[Trait("Category", "Integration")]
public sealed class PostgresSweepQueueTests() : SweepQueueContract(StoreProvider.Postgres);
