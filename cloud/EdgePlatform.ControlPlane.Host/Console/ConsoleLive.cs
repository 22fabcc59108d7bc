using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Experiments;
using EdgePlatform.ControlPlane.Rollouts;
using EdgePlatform.ControlPlane.Training;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Console;

/// <summary>
/// Server-sent events for live pages: each feed reads what its page shows through the same
/// service the page and the API use, reduces it to a fingerprint, and sends <c>changed</c> when the
/// fingerprint moves; the page then fetches itself again and swaps in its live regions. Reading on
/// the server, rather than pushing the page's data, keeps one query and one rendering per page.
/// </summary>
public sealed partial class ConsoleLive(IOptions<ConsoleOptions> options, TimeProvider timeProvider, ILogger<ConsoleLive> logger)
{
    public const string ChangedEvent = "changed";

    private delegate Task<string> Fingerprint(IServiceProvider services, string? id, IQueryCollection query, CancellationToken cancellationToken);

    private static readonly Dictionary<string, Fingerprint> Feeds = new(StringComparer.Ordinal)
    {
        ["fleet"] = async (services, _, query, ct) =>
        {
            var page = await services.GetRequiredService<FleetService>()
                .PageAsync(query["selector"], query["after"], services.GetRequiredService<IOptions<ConsoleOptions>>().Value.FleetPageSize, ct).ConfigureAwait(false);
            return Join(page.Devices.Select(d => FormattableString.Invariant($"{d.Id}:{d.Status}:{d.Reported?.DesiredVersion}:{d.Attestation?.State}:{d.Reported?.AgentVersion}")));
        },
        ["device"] = async (services, id, _, ct) =>
        {
            var device = await services.GetRequiredService<FleetService>().GetAsync(id ?? string.Empty, ct).ConfigureAwait(false);
            return FormattableString.Invariant($"{device.Status}:{device.LastSeen:O}:{device.Reported?.DesiredVersion}:{device.Reported?.LastError}");
        },
        ["rollouts"] = async (services, _, _, ct) =>
            Join((await services.GetRequiredService<RolloutService>().ListAsync(ct).ConfigureAwait(false)).Select(Rollout)),
        ["rollout"] = async (services, id, _, ct) =>
            Rollout(await services.GetRequiredService<RolloutService>().GetAsync(id ?? string.Empty, ct).ConfigureAwait(false)),
        ["training"] = async (services, _, _, ct) =>
            Join((await services.GetRequiredService<SweepService>().ListAsync(ct).ConfigureAwait(false)).Select(Sweep)),
        ["sweep"] = async (services, id, _, ct) =>
            Sweep(await services.GetRequiredService<SweepService>().GetAsync(id ?? string.Empty, ct).ConfigureAwait(false)),
        ["experiments"] = async (services, _, _, ct) =>
            Join((await services.GetRequiredService<ExperimentService>().ListAsync(ct).ConfigureAwait(false)).Select(e => $"{e.Id}:{e.State}")),
        ["experiment"] = async (services, id, _, ct) =>
        {
            var report = await services.GetRequiredService<ExperimentService>().GetReportAsync(id ?? string.Empty, ct).ConfigureAwait(false);
            return FormattableString.Invariant($"{report.Experiment.State}:{report.Looks}:{report.Experiment.PromotedRollout}");
        },
    };

    /// <summary>Sends <c>changed</c> each time the feed's fingerprint differs from the one before, until the client goes.</summary>
    public async IAsyncEnumerable<SseItem<string>> WatchAsync(
        string feed, string? id, IQueryCollection query, IServiceProvider services, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!Feeds.TryGetValue(feed, out var fingerprint))
        {
            yield return new SseItem<string>($"no feed '{feed}'", "error");
            yield break;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.Value.LiveIntervalMilliseconds), timeProvider);
        string? last = null;
        var sent = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var (current, error) = await ReadAsync(fingerprint, feed, id, query, services, cancellationToken).ConfigureAwait(false);
            if (error is not null)
            {
                yield return new SseItem<string>(error, "error");
                yield break;
            }

            if (current is null)
            {
                yield break;
            }

            if (last is not null && !string.Equals(current, last, StringComparison.Ordinal))
            {
                yield return new SseItem<string>((++sent).ToString(CultureInfo.InvariantCulture), ChangedEvent);
            }

            last = current;
            if (!await WaitAsync(timer, cancellationToken).ConfigureAwait(false))
            {
                yield break;
            }
        }
    }

    private async Task<(string? Current, string? Error)> ReadAsync(
        Fingerprint fingerprint, string feed, string? id, IQueryCollection query, IServiceProvider services, CancellationToken cancellationToken)
    {
        try
        {
            return (await fingerprint(services, id, query, cancellationToken).ConfigureAwait(false), null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return (null, null);
        }
        catch (ControlPlaneException ex)
        {
            // A rollout that is gone, a selector mistyped: the page shows why; the stream says it once and ends.
            LogFeedFailed(feed, id ?? string.Empty, ex.Message);
            return (null, ex.Message);
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static string Rollout(EdgePlatform.Contracts.RolloutInfo rollout) =>
        FormattableString.Invariant($"{rollout.Id}:{rollout.State}:{rollout.CurrentStage}:{rollout.UpdatedAt:O}:")
        + Join((rollout.Counts ?? new Dictionary<string, int>()).OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => FormattableString.Invariant($"{c.Key}={c.Value}")));

    private static string Sweep(EdgePlatform.Contracts.SweepInfo sweep) =>
        FormattableString.Invariant($"{sweep.Id}:{sweep.Status}:{sweep.Queued}:{sweep.Running}:{sweep.Succeeded}:{sweep.Failed}:{sweep.BestScore}");

    private static string Join(IEnumerable<string> parts)
    {
        var builder = new StringBuilder();
        foreach (var part in parts)
        {
            builder.Append(part).Append('|');
        }

        return builder.ToString();
    }

    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Console live feed {Feed} {Id} ended: {Reason}")]
    private partial void LogFeedFailed(string feed, string id, string reason);
}
