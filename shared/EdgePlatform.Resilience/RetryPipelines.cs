using Polly;
using Polly.Retry;

namespace EdgePlatform.Resilience;

/// <summary>A retry about to pause: which retry it is (1 for the first), how long it waits, and what failed.</summary>
public readonly record struct RetryNotice(int Retry, TimeSpan Delay, Exception Exception);

/// <summary>
/// Builds the retry pipeline every retry loop runs its attempts through: unlimited retries, capped
/// exponential backoff with jitter as <see cref="RetryBackoffOptions"/> says, delays taken from the
/// given <see cref="TimeProvider"/> (so a fake clock drives them in tests), and one callback per
/// retry for the caller's own log message. Cancellation of the caller's token is never retried: it
/// ends the loop, during an attempt or a pause.
/// </summary>
public static class RetryPipelines
{
    /// <param name="backoff">The backoff shape.</param>
    /// <param name="timeProvider">The clock the pauses run on.</param>
    /// <param name="shouldRetry">Which failures are worth another try; the rest end the loop and propagate.</param>
    /// <param name="onRetry">Called before each pause, typically to log the failure and the pause.</param>
    public static ResiliencePipeline Create(
        RetryBackoffOptions backoff,
        TimeProvider timeProvider,
        Func<Exception, bool> shouldRetry,
        Action<RetryNotice> onRetry)
    {
        ArgumentNullException.ThrowIfNull(backoff);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(shouldRetry);
        ArgumentNullException.ThrowIfNull(onRetry);
        return new ResiliencePipelineBuilder { TimeProvider = timeProvider }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                Delay = backoff.FirstDelay,
                MaxDelay = backoff.MaxDelay,
                // Polly's own jitter clamps at MaxDelay, so after enough failures every client
                // waits exactly the cap and clients that failed together stay together; ours keeps
                // drawing below the cap (see JitteredDelay).
                UseJitter = false,
                DelayGenerator = backoff.UseJitter
                    ? args => ValueTask.FromResult<TimeSpan?>(JitteredDelay(backoff, args.AttemptNumber, Random.Shared.NextDouble()))
                    : null,
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is { } ex
                    && !(ex is OperationCanceledException && args.Context.CancellationToken.IsCancellationRequested)
                    && shouldRetry(ex)),
                OnRetry = args =>
                {
                    onRetry(new RetryNotice(args.AttemptNumber + 1, args.RetryDelay, args.Outcome.Exception!));
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <summary>
    /// The pause before retry <paramref name="attempt"/> + 1 with jitter: drawn uniformly from the upper
    /// half of the doubling curve, which is scaled by 4/3 so that its mean at the first retry is
    /// <see cref="RetryBackoffOptions.FirstDelay"/>, and capped at <see cref="RetryBackoffOptions.MaxDelay"/>.
    /// At the cap the pauses stay spread over [MaxDelay/2, MaxDelay], so a fleet that failed at one
    /// instant (a restarted server) keeps arriving spread out however long the outage lasted.
    /// </summary>
    /// <param name="backoff">The backoff shape.</param>
    /// <param name="attempt">Failures so far, less one (0 before the first retry).</param>
    /// <param name="draw">A uniform draw from [0, 1).</param>
    public static TimeSpan JitteredDelay(RetryBackoffOptions backoff, int attempt, double draw)
    {
        ArgumentNullException.ThrowIfNull(backoff);
        var doubled = backoff.FirstDelay.TotalMilliseconds * 4 / 3 * Math.Pow(2, Math.Min(attempt, 62));
        var ceiling = Math.Min(backoff.MaxDelay.TotalMilliseconds, doubled);
        return TimeSpan.FromMilliseconds(ceiling * (0.5 + (0.5 * draw)));
    }
}
