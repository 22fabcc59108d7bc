using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Telemetry;

/// <summary>
/// Telemetry as a time series of one kind (health by default): filtered by device, device group,
/// model, version, arm (perf and quality) and time range.
/// </summary>
public sealed class TelemetryQueryService(IDeviceStore devices, ITelemetryStore store, IOptions<TelemetryStoreOptions> options)
{
    public const string Raw = "raw";
    public const string Minute = "minute";

    /// <summary>The device tag whose value names a device's group.</summary>
    public const string GroupTag = "group";

    public async Task<TelemetryQueryResult> QueryAsync(TelemetryQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var resolution = query.Resolution ?? Minute;
        if (resolution is not (Raw or Minute))
        {
            throw new RequestValidationException("resolution", $"'{resolution}' is not one of '{Minute}', '{Raw}'");
        }

        if (query.From is { } from && query.To is { } to && to <= from)
        {
            throw new RequestValidationException("to", "must be later than 'from'");
        }

        if (query.Limit is < 1)
        {
            throw new RequestValidationException("limit", "must be at least 1");
        }

        var kind = query.Kind ?? TelemetryKinds.Health;
        if (!TelemetryKinds.IsKnown(kind))
        {
            throw new RequestValidationException("kind", $"'{kind}' is not one of '{TelemetryKinds.Health}', '{TelemetryKinds.Perf}', '{TelemetryKinds.Quality}'");
        }

        if (query.Arm is { } arm)
        {
            if (arm is not (Arms.Control or Arms.Candidate))
            {
                throw new RequestValidationException("arm", $"'{arm}' is not one of '{Arms.Control}', '{Arms.Candidate}'");
            }

            if (kind == TelemetryKinds.Health)
            {
                throw new RequestValidationException("arm", $"health reports cover every arm; ask for kind '{TelemetryKinds.Perf}' or '{TelemetryKinds.Quality}'");
            }
        }

        var deviceIds = await ResolveDevicesAsync(query.Device, query.Group, cancellationToken).ConfigureAwait(false);
        var filter = new TelemetryFilter(
            deviceIds,
            query.Model,
            query.Version,
            query.From,
            query.To,
            Math.Min(query.Limit ?? options.Value.MaxQueryRows, options.Value.MaxQueryRows))
        {
            Arm = query.Arm,
        };
        return (kind, resolution) switch
        {
            (TelemetryKinds.Perf, Raw) => new TelemetryQueryResult(Raw, [], [])
            {
                Kind = kind,
                Perf = [.. (await store.QueryPerfAsync(filter, cancellationToken).ConfigureAwait(false)).Select(p => new PerfPoint(p.DeviceId, p.Record))],
            },
            (TelemetryKinds.Perf, _) => new TelemetryQueryResult(Minute, [], [])
            {
                Kind = kind,
                PerfMinutes = await store.QueryPerfMinutesAsync(filter, cancellationToken).ConfigureAwait(false),
            },
            (TelemetryKinds.Quality, Raw) => new TelemetryQueryResult(Raw, [], [])
            {
                Kind = kind,
                Quality = [.. (await store.QueryQualityAsync(filter, cancellationToken).ConfigureAwait(false)).Select(p => new QualityPoint(p.DeviceId, p.Record))],
            },
            (TelemetryKinds.Quality, _) => new TelemetryQueryResult(Minute, [], [])
            {
                Kind = kind,
                QualityMinutes = await store.QueryQualityMinutesAsync(filter, cancellationToken).ConfigureAwait(false),
            },
            (_, Raw) => new TelemetryQueryResult(Raw, [], await store.QueryRawAsync(filter, cancellationToken).ConfigureAwait(false)),
            _ => new TelemetryQueryResult(Minute, await store.QueryMinutesAsync(filter, cancellationToken).ConfigureAwait(false), []),
        };
    }

    private async Task<IReadOnlyCollection<string>?> ResolveDevicesAsync(string? device, string? group, CancellationToken cancellationToken)
    {
        if (device is not null && DeviceIds.Describe(device) is { } problem)
        {
            throw new RequestValidationException("device", problem);
        }

        if (group is null)
        {
            return device is null ? null : [device];
        }

        var members = (await devices.ListDevicesAsync(cancellationToken).ConfigureAwait(false))
            .Where(d => d.Tags.TryGetValue(GroupTag, out var value) && string.Equals(value, group, StringComparison.Ordinal))
            .Select(d => d.Id)
            .Where(id => device is null || string.Equals(id, device, StringComparison.Ordinal))
            .ToList();
        return members;
    }
}

/// <summary>The filters of <c>GET /api/v1/telemetry</c>; all optional.</summary>
public sealed record TelemetryQuery(
    string? Device = null,
    string? Group = null,
    string? Model = null,
    string? Version = null,
    DateTimeOffset? From = null,
    DateTimeOffset? To = null,
    string? Resolution = null,
    int? Limit = null,
    string? Kind = null,
    string? Arm = null);
