using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.Agent.Inference.Tests;

[Collection(TestModelsGroup.Name)]
public sealed class ModelHostTests(TestModels models)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public void TryScore_NoActiveModel_ReturnsFalse()
    {
        using var host = NewHost();

        Assert.False(host.TryScore(TestModels.EventJson(models.TestRows[0], "a"), out _));
        Assert.Null(host.Active);
    }

    [Fact]
    public void Score_NoActiveModel_ThrowsNoModelIsActive()
    {
        using var host = NewHost();

        var error = Assert.Throws<InvalidOperationException>(() => host.Score(TestModels.EventJson(models.TestRows[0], "a")));

        Assert.Equal("no model is active", error.Message);
    }

    [Fact]
    public void Activate_FirstModel_ScoresOnItAndReturnsNoRetiredModel()
    {
        using var host = NewHost();

        var retired = host.Activate(models.LoadScalar("1.0.0"));
        var result = host.Score(TestModels.EventJson(models.TestRows[0], "a"));

        Assert.Null(retired);
        Assert.Equal("1.0.0", result.Model.Version);
        Assert.Equal("1.0.0", host.Active?.Version);
    }

    [Fact]
    public void Activate_ModelAlreadyHosted_ThrowsArgumentException()
    {
        using var host = NewHost();
        using var other = NewHost();
        var model = models.LoadScalar();
        host.Activate(model);

        Assert.Throws<ArgumentException>(() => other.Activate(model));
    }

    [Fact]
    public void Activate_WhileLeaseOnPreviousModelIsHeld_DisposesPreviousOnlyWhenLeaseEnds()
    {
        using var host = NewHost();
        var first = models.LoadScalar("1.0.0");
        host.Activate(first);
        Assert.True(host.TryAcquire(out var lease));

        var retired = host.Activate(models.LoadScalar("2.0.0"));

        Assert.NotNull(retired);
        Assert.Equal("1.0.0", retired.Model.Version);
        Assert.False(retired.Disposed.IsCompleted);
        Assert.Equal("2.0.0", host.Score(TestModels.EventJson(models.TestRows[0], "new")).Model.Version);
        Assert.Equal("1.0.0", lease.Model.Score(TestModels.EventJson(models.TestRows[0], "in-flight")).Model.Version);
        Assert.False(first.IsDisposed);

        lease.Dispose();

        Assert.True(retired.Disposed.IsCompletedSuccessfully);
        Assert.True(first.IsDisposed);
    }

    [Fact]
    public void Dispose_WithActiveModel_DisposesIt()
    {
        var model = models.LoadScalar();
        var host = NewHost();
        host.Activate(model);

        host.Dispose();

        Assert.True(model.IsDisposed);
        Assert.False(host.TryScore(TestModels.EventJson(models.TestRows[0], "a"), out _));
    }

    [Fact]
    public async Task Activate_ManyTimesWhileScoringInALoop_ScoresEveryEventOnceAndDisposesOnlyDrainedModels()
    {
        const int Swaps = 20;
        const int EventsPerModel = 25;
        var loaded = Enumerable.Range(0, Swaps + 1).Select(version => models.LoadScalar($"{version}")).ToList();
        foreach (var model in loaded)
        {
            model.Warm();
        }

        using var host = NewHost();
        host.Activate(loaded[0]);
        // Per model version: events that started and finished on it while holding a lease, and
        // events scored on it in all.
        var started = new int[Swaps + 1];
        var finished = new int[Swaps + 1];
        var scored = new int[Swaps + 1];
        var scoredTotal = 0;
        var stop = 0;
        var results = new List<ScoreResult>();

        var scorer = Task.Factory.StartNew(
            () =>
            {
                var sent = 0;
                while (Volatile.Read(ref stop) == 0)
                {
                    var json = TestModels.EventJson(models.TestRows[sent % models.TestRows.Count], $"evt-{sent}");
                    ScoreResult result;
                    if (sent % 2 == 0)
                    {
                        Assert.True(host.TryScore(json, out result));
                    }
                    else
                    {
                        Assert.True(host.TryAcquire(out var lease));
                        using (lease)
                        {
                            var version = VersionOf(lease.Model.Identity);
                            Interlocked.Increment(ref started[version]);
                            result = lease.Model.Score(json);
                            Interlocked.Increment(ref finished[version]);
                        }
                    }

                    sent++;
                    results.Add(result);
                    Interlocked.Increment(ref scored[VersionOf(result.Model)]);
                    Interlocked.Increment(ref scoredTotal);
                }

                return sent;
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        var drained = new List<Task<(int Version, int Started, int Finished)>>();
        var swapper = Task.Factory.StartNew(
            () =>
            {
                try
                {
                    SwapWhileScoring();
                }
                finally
                {
                    Volatile.Write(ref stop, 1);
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        await Task.WhenAll(scorer, swapper).WaitAsync(Patience);
        var sent = await scorer;
        var atDisposal = await Task.WhenAll(drained).WaitAsync(Patience);

        Assert.Equal(sent, results.Count);
        Assert.Equal(sent, results.Select(result => result.CorrelationId).Distinct().Count());
        Assert.Equal(sent, scored.Sum());
        Assert.All(scored, count => Assert.True(count > 0, "a model scored no event"));
        Assert.Equal(Swaps, atDisposal.Length);
        foreach (var (version, startedAtDisposal, finishedAtDisposal) in atDisposal)
        {
            // Nothing was in flight on the model when it was disposed, and nothing started on it after.
            Assert.Equal(startedAtDisposal, finishedAtDisposal);
            Assert.Equal(startedAtDisposal, started[version]);
            Assert.True(loaded[version].IsDisposed);
        }

        Assert.False(loaded[Swaps].IsDisposed);
        Assert.Equal($"{Swaps}", host.Active?.Version);

        void SwapWhileScoring()
        {
            for (var next = 1; next <= Swaps + 1; next++)
            {
                // Swap only after the current model has scored some events, so every model is used.
                var target = Volatile.Read(ref scoredTotal) + EventsPerModel;
                Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref scoredTotal) >= target || scorer.IsCompleted, Patience), "scoring stalled");
                if (scorer.IsCompleted)
                {
                    return;
                }

                if (next > Swaps)
                {
                    break;
                }

                var retired = host.Activate(loaded[next]);
                Assert.NotNull(retired);
                var version = next - 1;
                drained.Add(retired.Disposed.ContinueWith(
                    _ => (version, Volatile.Read(ref started[version]), Volatile.Read(ref finished[version])),
                    CancellationToken.None,
                    TaskContinuationOptions.None,
                    TaskScheduler.Default));
            }
        }
    }

    private static ModelHost NewHost() => new(NullLogger<ModelHost>.Instance);

    private static int VersionOf(ModelIdentity model) => int.Parse(model.Version, CultureInfo.InvariantCulture);
}
