using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

/// <summary>Telemetry totals over a rollout's window, on each database.</summary>
public abstract class TelemetryWindowStoreContract(StoreProvider provider) : StoreContract(provider)
{
    private static readonly DateTimeOffset Start = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task SummarizeWindowAsync_ReportsIngestedOverSeveralMinutes_TotalsPerDeviceAndVersionInsideTheWindowOnly()
    {
        var store = Stores.Telemetry;
        long sequence = 0;

        // dev-1: version 1 until 12:05, then version 2; dev-2 stays on version 1; dev-3 is not asked for.
        for (var minute = 0; minute < 10; minute++)
        {
            var at = Start.AddMinutes(minute).AddSeconds(20);
            var version = minute < 5 ? "1" : "2";
            await store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Report(++sequence, at, version, scored: 100, errors: minute, p99: minute < 5 ? 10 : 30)], at, CancellationToken.None);
            await store.AddTelemetryAsync("dev-2", TelemetryKinds.Health, [Report(++sequence, at, "1", scored: 10 * (minute + 1), errors: 0, p99: minute + 1)], at, CancellationToken.None);
            await store.AddTelemetryAsync("dev-3", TelemetryKinds.Health, [Report(++sequence, at, "2", scored: 999, errors: 999, p99: 999)], at, CancellationToken.None);
        }

        // From mid-minute 12:03 (the whole minute counts) to 12:08 (not included).
        var totals = await store.SummarizeWindowAsync(["dev-1", "dev-2"], Start.AddMinutes(3).AddSeconds(30), Start.AddMinutes(8), CancellationToken.None);

        Assert.Equal(
            [
                new TelemetryWindowTotal("dev-1", "sensor", "1", 2, 200, 3 + 4, 10),
                new TelemetryWindowTotal("dev-1", "sensor", "2", 3, 300, 5 + 6 + 7, 30),
                new TelemetryWindowTotal("dev-2", "sensor", "1", 5, 40 + 50 + 60 + 70 + 80, 0, ((4 * 40) + (5 * 50) + (6 * 60) + (7 * 70) + (8 * 80)) / 300.0),
            ],
            totals);
    }

    [Fact]
    public async Task SummarizeWindowAsync_FortyThousandDevicesAsked_AnswersWithoutHittingTheParameterLimit()
    {
        var store = Stores.Telemetry;
        await store.AddTelemetryAsync("dev-07777", TelemetryKinds.Health, [Report(1, Start.AddSeconds(5), "2", scored: 50, errors: 1, p99: 4)], Start.AddSeconds(5), CancellationToken.None);

        var totals = await store.SummarizeWindowAsync([.. Enumerable.Range(0, 40_000).Select(i => $"dev-{i:00000}")], Start, Start.AddMinutes(1), CancellationToken.None);

        Assert.Equal([new TelemetryWindowTotal("dev-07777", "sensor", "2", 1, 50, 1, 4)], totals);
    }

    [Fact]
    public async Task SummarizeWindowAsync_FirstDeviceScoredNothing_TheNextDevicesP99IsStillRead()
    {
        var store = Stores.Telemetry;
        await store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Report(1, Start.AddSeconds(5), "1", scored: 0, errors: 0, p99: 0)], Start.AddSeconds(5), CancellationToken.None);
        await store.AddTelemetryAsync("dev-2", TelemetryKinds.Health, [Report(2, Start.AddSeconds(5), "1", scored: 10, errors: 0, p99: 4.5)], Start.AddSeconds(5), CancellationToken.None);

        // The idle device's row comes first; an expression's type in SQLite follows each row's value.
        var totals = await store.SummarizeWindowAsync(["dev-1", "dev-2"], Start, Start.AddMinutes(1), CancellationToken.None);

        Assert.Equal([0, 4.5], totals.Select(t => t.LatencyP99Ms));
    }

    private static TelemetryRecord Report(long sequence, DateTimeOffset at, string version, long scored, long errors, double p99) =>
        new(sequence, at, "sensor", version, "sha256:" + new string(version[0], 64), scored + errors, scored, errors, 0, 1, p99, p99, 5, 1000);
}

public sealed class SqliteTelemetryWindowStoreTests() : TelemetryWindowStoreContract(StoreProvider.Sqlite);

[Trait("Category", "Integration")]
public sealed class PostgresTelemetryWindowStoreTests() : TelemetryWindowStoreContract(StoreProvider.Postgres);
