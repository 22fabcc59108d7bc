using System.Globalization;
using System.Text;
using Xunit.Abstractions;

namespace EdgePlatform.Resilience.Tests;

public sealed class RetryPipelinesTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task ExecuteAsync_WithoutJitter_PausesDoubleUpToTheCap()
    {
        var clock = new InstantClock();
        var notices = new List<RetryNotice>();
        var backoff = new RetryBackoffOptions { FirstDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(20), UseJitter = false };
        var pipeline = RetryPipelines.Create(backoff, clock, _ => true, notices.Add);
        var failuresLeft = 7;

        await pipeline.ExecuteAsync(
            _ => --failuresLeft >= 0 ? throw new IOException("unreachable") : ValueTask.CompletedTask,
            CancellationToken.None);

        TimeSpan[] expected = [Seconds(1), Seconds(2), Seconds(4), Seconds(8), Seconds(16), Seconds(20), Seconds(20)];
        Assert.Equal(expected, notices.Select(n => n.Delay));
        Assert.Equal(expected, clock.Pauses);
        Assert.Equal(Enumerable.Range(1, 7), notices.Select(n => n.Retry));
        Assert.All(notices, n => Assert.IsType<IOException>(n.Exception));
    }

    [Fact]
    public async Task ExecuteAsync_WithJitter_PausesGrowButNeverPassTheCap()
    {
        var clock = new InstantClock();
        var backoff = new RetryBackoffOptions { FirstDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(20) };
        var pipeline = RetryPipelines.Create(backoff, clock, _ => true, _ => { });
        var failuresLeft = 30;

        await pipeline.ExecuteAsync(
            _ => --failuresLeft >= 0 ? throw new IOException("unreachable") : ValueTask.CompletedTask,
            CancellationToken.None);

        var pauses = clock.Pauses;
        Assert.Equal(30, pauses.Count);
        Assert.All(pauses, p => Assert.InRange(p, TimeSpan.Zero, backoff.MaxDelay));

        // Jitter keeps the exponential trend: the later pauses are far longer than the first ones.
        Assert.True(pauses.Skip(20).Average(p => p.TotalSeconds) > 4 * pauses.Take(3).Average(p => p.TotalSeconds));
    }

    [Theory]
    [InlineData(1, "first retry")]
    [InlineData(30, "thirtieth retry, long at the cap")]
    public async Task ExecuteAsync_ThousandClientsFailingTogether_RetriesSpreadOverTheWindow(int retry, string which)
    {
        const int Clients = 1000;
        const int Buckets = 10;
        var backoff = new RetryBackoffOptions { FirstDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(30) };

        var jittered = await RetryDelaysAsync(backoff, Clients, retry);
        var lockstep = await RetryDelaysAsync(new RetryBackoffOptions { FirstDelay = backoff.FirstDelay, MaxDelay = backoff.MaxDelay, UseJitter = false }, Clients, retry);

        // The window the draws come from: the upper half of the (4/3-scaled) doubling curve, capped.
        var high = Math.Min(backoff.MaxDelay.TotalSeconds, backoff.FirstDelay.TotalSeconds * 4 / 3 * Math.Pow(2, retry - 1));
        var low = high / 2;
        var histogram = new int[Buckets];
        foreach (var delay in jittered)
        {
            Assert.InRange(delay.TotalSeconds, low, high);
            histogram[Math.Min((int)((delay.TotalSeconds - low) / (high - low) * Buckets), Buckets - 1)]++;
        }

        output.WriteLine(Render(histogram, low, high, Clients, which));
        Assert.Single(lockstep.Distinct());
        Assert.True(jittered.Distinct().Count() > Clients * 0.99, "nearly every client should draw its own delay");
        Assert.True(histogram.Max() <= Clients * 0.15, $"no tenth of the window should hold more than 15% of the clients, the fullest held {histogram.Max()}");
        Assert.True(histogram.Min() >= Clients * 0.05, $"the delays should cover the window, the emptiest tenth held {histogram.Min()}");
    }

    [Fact]
    public void JitteredDelay_MeanOfTheFirstRetryIsTheFirstDelayAndNoDrawPassesTheCap()
    {
        var backoff = new RetryBackoffOptions { FirstDelay = TimeSpan.FromSeconds(3), MaxDelay = TimeSpan.FromSeconds(10) };

        Assert.Equal(TimeSpan.FromSeconds(2), RetryPipelines.JitteredDelay(backoff, 0, 0));
        Assert.Equal(TimeSpan.FromSeconds(3), RetryPipelines.JitteredDelay(backoff, 0, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(5), RetryPipelines.JitteredDelay(backoff, 5, 0));
        Assert.Equal(TimeSpan.FromSeconds(10), RetryPipelines.JitteredDelay(backoff, 5, 1));
        Assert.Equal(TimeSpan.FromSeconds(10), RetryPipelines.JitteredDelay(backoff, int.MaxValue, 1));
    }

    [Fact]
    public async Task ExecuteAsync_CancelledDuringPause_StopsPromptlyWithoutAnotherTry()
    {
        var backoff = new RetryBackoffOptions { FirstDelay = TimeSpan.FromMinutes(10), MaxDelay = TimeSpan.FromHours(1) };
        var pausing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pipeline = RetryPipelines.Create(backoff, TimeProvider.System, _ => true, _ => pausing.TrySetResult());
        using var stopping = new CancellationTokenSource();
        var attempts = 0;

        var loop = pipeline.ExecuteAsync(
            _ =>
            {
                Interlocked.Increment(ref attempts);
                throw new IOException("unreachable");
            },
            stopping.Token).AsTask();
        await pausing.Task.WaitAsync(Deadline);
        await stopping.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop.WaitAsync(Deadline));
        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task ExecuteAsync_CancelledDuringAttempt_EndsWithoutRetrying()
    {
        var notices = 0;
        var pipeline = RetryPipelines.Create(new RetryBackoffOptions(), TimeProvider.System, _ => true, _ => notices++);
        var attempting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stopping = new CancellationTokenSource();

        var loop = pipeline.ExecuteAsync(
            async token =>
            {
                attempting.TrySetResult();
                await Task.Delay(Timeout.Infinite, token);
            },
            stopping.Token).AsTask();
        await attempting.Task.WaitAsync(Deadline);
        await stopping.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop.WaitAsync(Deadline));
        Assert.Equal(0, notices);
    }

    [Fact]
    public async Task ExecuteAsync_FailureTheCallerDoesNotRetry_PropagatesAtOnce()
    {
        var clock = new InstantClock();
        var pipeline = RetryPipelines.Create(new RetryBackoffOptions(), clock, ex => ex is IOException, _ => { });

        await Assert.ThrowsAsync<UnauthorizedAccessException>(
            () => pipeline.ExecuteAsync(_ => throw new UnauthorizedAccessException("refused"), CancellationToken.None).AsTask());
        Assert.Empty(clock.Pauses);
    }

    private static TimeSpan Seconds(int seconds) => TimeSpan.FromSeconds(seconds);

    /// <summary>The pause each of <paramref name="clients"/> clients takes before its <paramref name="retry"/>th retry.</summary>
    private static async Task<TimeSpan[]> RetryDelaysAsync(RetryBackoffOptions backoff, int clients, int retry)
    {
        var delays = new TimeSpan[clients];
        for (var client = 0; client < clients; client++)
        {
            var index = client;
            var pipeline = RetryPipelines.Create(backoff, new InstantClock(), _ => true, notice => delays[index] = notice.Retry == retry ? notice.Delay : delays[index]);
            var attempts = 0;
            await pipeline.ExecuteAsync(
                _ => attempts++ >= retry ? ValueTask.CompletedTask : throw new IOException("control plane restarting"),
                CancellationToken.None);
        }

        return delays;
    }

    private static string Render(int[] histogram, double low, double high, int clients, string which)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Pauses before the {which} of {clients} clients (first delay 1 s, cap 30 s, jitter on):");
        var width = (high - low) / histogram.Length;
        for (var bucket = 0; bucket < histogram.Length; bucket++)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{low + (width * bucket),6:0.00}-{low + (width * (bucket + 1)),6:0.00} s {histogram[bucket],4} {new string('#', histogram[bucket] / 4)}");
        }

        return text.ToString();
    }
}
