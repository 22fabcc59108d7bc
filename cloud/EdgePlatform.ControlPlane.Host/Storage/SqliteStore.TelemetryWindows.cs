using Dapper;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>Telemetry totals over a window of per-minute rollups, for the rollout gates.</summary>
public sealed partial class SqliteStore
{
    public async Task<IReadOnlyList<TelemetryWindowTotal>> SummarizeWindowAsync(
        IReadOnlyCollection<string> deviceIds, DateTimeOffset windowStart, DateTimeOffset windowEnd, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deviceIds);
        if (deviceIds.Count == 0)
        {
            return [];
        }

        await using var connection = Open();

        // The ids travel as one JSON array: a fleet of thousands would pass SQLite's limit on parameters.
        // The p99 is cast to REAL: Dapper reads every later row with the type of the first one it saw,
        // and an expression's type in SQLite follows its value (an integer 0 where nothing was scored).
        var rows = await connection.QueryAsync<WindowRow>(new CommandDefinition(
            """
            SELECT device_id, model_name, model_version, COUNT(*) AS minutes, SUM(events_scored) AS events_scored, SUM(errors) AS errors,
                   CAST(CASE WHEN SUM(events_scored) > 0 THEN SUM(latency_p99_ms_max * events_scored) / SUM(events_scored) ELSE 0 END AS REAL) AS latency_p99_ms
            FROM telemetry_minutes
            WHERE device_id IN (SELECT value FROM json_each(@deviceIds)) AND minute >= @from AND minute < @to
            GROUP BY device_id, model_name, model_version
            ORDER BY device_id, model_name, model_version
            """,
            new
            {
                deviceIds = Json(deviceIds.ToList(), ContractsJsonContext.Default.ListString),
                from = Time(MinuteOf(windowStart)),
                to = Time(windowEnd),
            },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => new TelemetryWindowTotal(
            r.DeviceId, r.ModelName.Length == 0 ? null : r.ModelName, r.ModelVersion.Length == 0 ? null : r.ModelVersion,
            r.Minutes, r.EventsScored, r.Errors, r.LatencyP99Ms))];
    }

#pragma warning disable CA1812 // Instantiated by Dapper.
    private sealed class WindowRow
    {
        public string DeviceId { get; set; } = "";
        public string ModelName { get; set; } = "";
        public string ModelVersion { get; set; } = "";
        public long Minutes { get; set; }
        public long EventsScored { get; set; }
        public long Errors { get; set; }
        public double LatencyP99Ms { get; set; }
    }
#pragma warning restore CA1812
}
