using System.Collections.Concurrent;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Tests.Fakes;

/// <summary>
/// The store ports in memory, following the contracts the store adapters implement: re-enrollment
/// replaces only credential and tags, telemetry is unique per (device, sequence).
/// </summary>
internal sealed class InMemoryStore : IDeviceStore, IModelStore, IDeploymentStore, ITelemetryStore, IEnrollmentGroupStore
{
    private readonly ConcurrentDictionary<string, DeviceRecord> _devices = new(StringComparer.Ordinal);
    private readonly List<ModelRecord> _models = [];
    private readonly List<DeploymentInfo> _deployments = [];
    private readonly ConcurrentDictionary<(string Device, long Sequence), (string Kind, TelemetryRecord Record)> _telemetry = new();

    // Sequences of perf and quality records; health ones are the keys of _telemetry.
    private readonly ConcurrentDictionary<(string Device, long Sequence), string> _sequences = new();
    private readonly ConcurrentDictionary<(string Device, string Reason), long> _rejections = new();

    public IReadOnlyList<DeploymentInfo> Deployments => _deployments;

    public IReadOnlyDictionary<(string Device, long Sequence), (string Kind, TelemetryRecord Record)> Telemetry => _telemetry;

    public DeviceRecord AddDevice(string id, DesiredState? desired = null)
    {
        var device = new DeviceRecord(id, new Dictionary<string, string>(), "hash", DateTimeOffset.UnixEpoch, DeviceStatuses.NeverConnected, null, desired, null);
        _devices[id] = device;
        return device;
    }

    public void AddModel(ModelRecord model)
    {
        lock (_models)
        {
            _models.Add(model);
        }
    }

    public Task<IReadOnlySet<string>> FindEnrolledAsync(IReadOnlyCollection<string> deviceIds, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlySet<string>>(deviceIds.Where(_devices.ContainsKey).ToHashSet(StringComparer.Ordinal));

    public Task<DeviceRecord?> GetDeviceAsync(string deviceId, CancellationToken cancellationToken) =>
        Task.FromResult(_devices.GetValueOrDefault(deviceId));

    public Task<IReadOnlyList<DeviceRecord>> ListDevicesAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<DeviceRecord>>([.. _devices.Values.OrderBy(d => d.Id, StringComparer.Ordinal)]);

    public Task<IReadOnlyList<DeviceRecord>> ListDevicesAfterAsync(string? after, int limit, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<DeviceRecord>>([.. _devices.Values
            .Where(d => after is null || string.CompareOrdinal(d.Id, after) > 0)
            .OrderBy(d => d.Id, StringComparer.Ordinal)
            .Take(limit)]);

    public Task UpsertDeviceAsync(DeviceRecord device, CancellationToken cancellationToken)
    {
        _devices.AddOrUpdate(device.Id, device, (_, existing) => existing with { Tags = device.Tags, CertificateThumbprint = device.CertificateThumbprint, Certificate = device.Certificate });
        return Task.CompletedTask;
    }

    public Task<bool> SaveDesiredAsync(string deviceId, DesiredState desired, long expectedVersion, CancellationToken cancellationToken)
    {
        lock (_devices)
        {
            if (!_devices.TryGetValue(deviceId, out var device) || (device.Desired?.Version ?? 0) != expectedVersion)
            {
                return Task.FromResult(false);
            }

            _devices[deviceId] = device with { Desired = desired };
            return Task.FromResult(true);
        }
    }

    public Task<IReadOnlySet<string>> SaveDesiredManyAsync(IReadOnlyList<DesiredUpdate> updates, CancellationToken cancellationToken) =>
        ForwardingDeviceStore.SaveOneAtATimeAsync(this, updates, cancellationToken);

    public Task<IReadOnlyDictionary<string, DesiredState>> GetDesiredManyAsync(IReadOnlyCollection<string> deviceIds, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyDictionary<string, DesiredState>>(deviceIds
            .Select(id => _devices.GetValueOrDefault(id))
            .Where(d => d?.Desired is not null)
            .ToDictionary(d => d!.Id, d => d!.Desired!, StringComparer.Ordinal));

    public Task SaveReportedAsync(string deviceId, ReportedState reported, DateTimeOffset receivedAt, CancellationToken cancellationToken) =>
        Update(deviceId, d => d with { Reported = reported, LastSeen = receivedAt });

    public Task SaveStatusAsync(string deviceId, string status, DateTimeOffset at, CancellationToken cancellationToken) =>
        Update(deviceId, d => d with { Status = status, LastSeen = at });

    public Task SaveAttestationAsync(string deviceId, AttestationStatus attestation, CancellationToken cancellationToken) =>
        Update(deviceId, d => d with { Attestation = attestation });

    public Task<bool> AddModelAsync(ModelRecord model, CancellationToken cancellationToken)
    {
        lock (_models)
        {
            if (_models.Any(m => m.Name == model.Name && m.Version == model.Version))
            {
                return Task.FromResult(false);
            }

            _models.Add(model);
            return Task.FromResult(true);
        }
    }

    public Task<ModelRecord?> FindModelAsync(string name, string? version, CancellationToken cancellationToken)
    {
        lock (_models)
        {
            var candidates = _models.Where(m => m.Name == name && (version is null || m.Version == version));
            return Task.FromResult(candidates.LastOrDefault());
        }
    }

    public Task<ModelRecord?> FindModelByDigestAsync(string repository, string manifestDigest, CancellationToken cancellationToken)
    {
        lock (_models)
        {
            return Task.FromResult(_models.FirstOrDefault(m => m.Repository == repository && m.ManifestDigest == manifestDigest));
        }
    }

    public Task UpdateModelSignatureAsync(string name, string version, string signature, CancellationToken cancellationToken)
    {
        lock (_models)
        {
            var index = _models.FindIndex(m => m.Name == name && m.Version == version);
            if (index >= 0)
            {
                _models[index] = _models[index] with { Signature = signature };
            }
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<ModelRecord>> ListModelsAsync(CancellationToken cancellationToken)
    {
        lock (_models)
        {
            return Task.FromResult<IReadOnlyList<ModelRecord>>([.. _models]);
        }
    }

    private readonly ConcurrentDictionary<(string Name, string Alias), ModelAlias> _aliases = new();

    public Task SetAliasAsync(ModelAlias modelAlias, CancellationToken cancellationToken)
    {
        _aliases[(modelAlias.Name, modelAlias.Alias)] = modelAlias;
        return Task.CompletedTask;
    }

    public Task<ModelAlias?> FindAliasAsync(string name, string aliasName, CancellationToken cancellationToken) =>
        Task.FromResult(_aliases.GetValueOrDefault((name, aliasName)));

    public Task<IReadOnlyList<ModelAlias>> ListAliasesAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ModelAlias>>([.. _aliases.Values.Where(a => a.Name == name).OrderBy(a => a.Alias, StringComparer.Ordinal)]);

    public Task AddDeploymentAsync(DeploymentInfo deployment, CancellationToken cancellationToken)
    {
        lock (_deployments)
        {
            _deployments.Add(deployment);
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<DeploymentInfo>> ListDeploymentsAsync(CancellationToken cancellationToken)
    {
        lock (_deployments)
        {
            return Task.FromResult<IReadOnlyList<DeploymentInfo>>([.. _deployments]);
        }
    }

    public async Task<IReadOnlyList<StoredTelemetry>> WriteTelemetryAsync(TelemetryWrite write, CancellationToken cancellationToken)
    {
        var stored = new List<StoredTelemetry>();
        foreach (var batch in write.Batches)
        {
            var added = new StoredTelemetry(
                [.. batch.Records.Where(record => !_sequences.ContainsKey((batch.DeviceId, record.Sequence)) && _telemetry.TryAdd((batch.DeviceId, record.Sequence), (batch.Kind, record)))],
                [.. batch.Perf.Where(record => _sequences.TryAdd((batch.DeviceId, record.Sequence), batch.Kind) && !_telemetry.ContainsKey((batch.DeviceId, record.Sequence)))],
                [.. batch.Quality.Where(record => _sequences.TryAdd((batch.DeviceId, record.Sequence), batch.Kind) && !_telemetry.ContainsKey((batch.DeviceId, record.Sequence)))]);
            if (added.Count < batch.Count)
            {
                CountRejection(batch.DeviceId, TelemetryRejections.ReplayedSequence, batch.Count - added.Count);
            }

            await Update(batch.DeviceId, d => d with { LastSeen = write.ReceivedAt }).ConfigureAwait(false);
            stored.Add(added);
        }

        foreach (var rejection in write.Rejections)
        {
            CountRejection(rejection.DeviceId, rejection.Reason, rejection.Count);
        }

        return stored;
    }

    public Task<IReadOnlyList<DeviceTelemetrySummary>> SummarizeAsync(string? deviceId, CancellationToken cancellationToken) =>
        throw new NotSupportedException("not needed by these tests");

    public IReadOnlyDictionary<(string Device, string Reason), long> Rejections => _rejections;

    private void CountRejection(string deviceId, string reason, long count) =>
        _rejections.AddOrUpdate((deviceId, reason), count, (_, existing) => existing + count);

    public Task<IReadOnlyList<TelemetryRejectionCount>> ListRejectionsAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<TelemetryRejectionCount>>([.. _rejections.Select(r => new TelemetryRejectionCount(r.Key.Device, r.Key.Reason, r.Value, DateTimeOffset.UnixEpoch, ""))]);

    public Task<IReadOnlyList<TelemetryPoint>> QueryRawAsync(TelemetryFilter filter, CancellationToken cancellationToken)
    {
        LastFilter = filter;
        return Task.FromResult<IReadOnlyList<TelemetryPoint>>([]);
    }

    public Task<IReadOnlyList<TelemetryMinute>> QueryMinutesAsync(TelemetryFilter filter, CancellationToken cancellationToken)
    {
        LastFilter = filter;
        return Task.FromResult<IReadOnlyList<TelemetryMinute>>([]);
    }

    public TelemetryFilter? LastFilter { get; private set; }

    private readonly List<TelemetryMinute> _minutes = [];

    /// <summary>Adds a per-minute rollup as ingest would leave it.</summary>
    public void AddMinute(TelemetryMinute minute)
    {
        lock (_minutes)
        {
            _minutes.Add(minute);
        }
    }

    public Task<IReadOnlyList<TelemetryWindowTotal>> SummarizeWindowAsync(IReadOnlyCollection<string> deviceIds, DateTimeOffset windowStart, DateTimeOffset windowEnd, CancellationToken cancellationToken)
    {
        var devices = deviceIds.ToHashSet(StringComparer.Ordinal);
        var fromMinute = new DateTimeOffset(windowStart.UtcDateTime.Ticks - (windowStart.UtcDateTime.Ticks % TimeSpan.TicksPerMinute), TimeSpan.Zero);
        lock (_minutes)
        {
            return Task.FromResult<IReadOnlyList<TelemetryWindowTotal>>([.. _minutes
                .Where(m => devices.Contains(m.DeviceId) && m.Minute >= fromMinute && m.Minute < windowEnd)
                .GroupBy(m => (m.DeviceId, m.ModelName, m.ModelVersion))
                .Select(g =>
                {
                    var scored = g.Sum(m => m.EventsScored);
                    return new TelemetryWindowTotal(
                        g.Key.DeviceId, g.Key.ModelName, g.Key.ModelVersion, g.Count(), scored, g.Sum(m => m.Errors),
                        scored > 0 ? g.Sum(m => m.LatencyP99MsMax * m.EventsScored) / scored : 0);
                })]);
        }
    }

    public Task<IReadOnlyList<(string DeviceId, PerfRecord Record)>> QueryPerfAsync(TelemetryFilter filter, CancellationToken cancellationToken) =>
        throw new NotSupportedException("not needed by these tests");

    public Task<IReadOnlyList<PerfMinute>> QueryPerfMinutesAsync(TelemetryFilter filter, CancellationToken cancellationToken)
    {
        LastFilter = filter;
        return Task.FromResult<IReadOnlyList<PerfMinute>>([]);
    }

    public Task<IReadOnlyList<QualityMinute>> QueryQualityMinutesAsync(TelemetryFilter filter, CancellationToken cancellationToken)
    {
        LastFilter = filter;
        return Task.FromResult<IReadOnlyList<QualityMinute>>([]);
    }

    private readonly List<(string DeviceId, QualityRecord Record)> _quality = [];

    /// <summary>Stores a quality report as ingest would, for queries of raw quality records.</summary>
    public void AddQuality(string deviceId, QualityRecord record)
    {
        lock (_quality)
        {
            _quality.Add((deviceId, record));
        }
    }

    public Task<IReadOnlyList<(string DeviceId, QualityRecord Record)>> QueryQualityAsync(TelemetryFilter filter, CancellationToken cancellationToken)
    {
        lock (_quality)
        {
            return Task.FromResult<IReadOnlyList<(string DeviceId, QualityRecord Record)>>([.. _quality
                .Where(q => (filter.DeviceIds is null || filter.DeviceIds.Contains(q.DeviceId))
                    && (filter.ModelName is null || q.Record.ModelName == filter.ModelName)
                    && (filter.ModelVersion is null || q.Record.ModelVersion == filter.ModelVersion)
                    && (filter.Arm is null || q.Record.Arm == filter.Arm)
                    && (filter.From is not { } from || q.Record.Timestamp >= from)
                    && (filter.To is not { } to || q.Record.Timestamp < to))
                .OrderBy(q => q.Record.Timestamp)
                .Take(filter.Limit)]);
        }
    }

    public Task<long> PruneTelemetryAsync(DateTimeOffset rawBefore, DateTimeOffset rollupsBefore, CancellationToken cancellationToken) =>
        throw new NotSupportedException("not needed by these tests");

    private Task Update(string deviceId, Func<DeviceRecord, DeviceRecord> change)
    {
        lock (_devices)
        {
            if (_devices.TryGetValue(deviceId, out var device))
            {
                _devices[deviceId] = change(device);
            }
        }

        return Task.CompletedTask;
    }

    private readonly List<EnrollmentGroupRecord> _groups = [];

    public Task AddGroupAsync(EnrollmentGroupRecord group, CancellationToken cancellationToken)
    {
        lock (_groups)
        {
            _groups.Add(group);
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<EnrollmentGroupRecord>> ListGroupsAsync(CancellationToken cancellationToken)
    {
        lock (_groups)
        {
            return Task.FromResult<IReadOnlyList<EnrollmentGroupRecord>>([.. _groups]);
        }
    }

    public Task<bool> RevokeGroupAsync(string id, DateTimeOffset at, CancellationToken cancellationToken)
    {
        lock (_groups)
        {
            var index = _groups.FindIndex(g => g.Id == id);
            if (index < 0)
            {
                return Task.FromResult(false);
            }

            _groups[index] = _groups[index] with { RevokedAt = _groups[index].RevokedAt ?? at };
            return Task.FromResult(true);
        }
    }
}
