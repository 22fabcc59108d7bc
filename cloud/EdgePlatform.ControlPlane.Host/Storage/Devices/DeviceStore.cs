using Dapper;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Devices;

/// <summary>
/// Enrolled devices and their twins (table <c>devices</c>). The desired document is written by
/// compare-and-set on <c>desired_version</c>, so replicas sharing the database cannot both win.
/// </summary>
public abstract class DeviceStore(StoreDatabase database) : IDeviceStore
{
    /// <summary>A predicate on <c>id</c> that holds for the ids in the parameter <c>@ids</c> (see <see cref="IdsParameter"/>).</summary>
    protected abstract string IdIsOneOfIds { get; }

    public async Task<DeviceRecord?> GetDeviceAsync(string deviceId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<DeviceRow>(
            new CommandDefinition("SELECT * FROM devices WHERE id = @deviceId", new { deviceId }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<IReadOnlySet<string>> FindEnrolledAsync(IReadOnlyCollection<string> deviceIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deviceIds);
        if (deviceIds.Count == 0)
        {
            return new HashSet<string>(StringComparer.Ordinal);
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var found = await connection.QueryAsync<string>(new CommandDefinition(
            $"SELECT id FROM devices WHERE {IdIsOneOfIds}", new { ids = IdsParameter(deviceIds) }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return found.ToHashSet(StringComparer.Ordinal);
    }

    public async Task<IReadOnlyList<DeviceRecord>> ListDevicesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<DeviceRow>(
            new CommandDefinition("SELECT * FROM devices ORDER BY id", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToRecord())];
    }

    public async Task<IReadOnlyList<DeviceRecord>> ListDevicesAfterAsync(string? after, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);

        // Two statements rather than "@after IS NULL OR": PostgreSQL cannot type a parameter that is only ever null.
        var sql = after is null
            ? "SELECT * FROM devices ORDER BY id LIMIT @limit"
            : "SELECT * FROM devices WHERE id > @after ORDER BY id LIMIT @limit";
        var rows = await connection.QueryAsync<DeviceRow>(
            new CommandDefinition(sql, new { after, limit }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToRecord())];
    }

    public async Task UpsertDeviceAsync(DeviceRecord device, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(device);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);

        // Re-enrollment replaces the credential and tags only: the twin and status stay.
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO devices (id, tags, certificate_thumbprint, certificate, enrolled_at, status, last_seen, desired, desired_version, reported, attestation)
            VALUES (@Id, @Tags, @CertificateThumbprint, @Certificate, @EnrolledAt, @Status, @LastSeen, @Desired, @DesiredVersion, @Reported, @Attestation)
            ON CONFLICT (id) DO UPDATE SET tags = excluded.tags, certificate_thumbprint = excluded.certificate_thumbprint, certificate = excluded.certificate
            """,
            new
            {
                device.Id,
                Tags = Json(device.Tags.ToDictionary(StringComparer.Ordinal), ContractsJsonContext.Default.DictionaryStringString),
                device.CertificateThumbprint,
                device.Certificate,
                EnrolledAt = Time(device.EnrolledAt),
                device.Status,
                LastSeen = device.LastSeen is { } seen ? Time(seen) : null,
                Desired = device.Desired is null ? null : Json(device.Desired, ContractsJsonContext.Default.DesiredState),
                DesiredVersion = device.Desired?.Version ?? 0,
                Reported = device.Reported is null ? null : Json(device.Reported, ContractsJsonContext.Default.ReportedState),
                Attestation = device.Attestation is null ? null : Json(device.Attestation, ContractsJsonContext.Default.AttestationStatus),
            },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<bool> SaveDesiredAsync(string deviceId, DesiredState desired, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(desired);
        return (await SaveDesiredManyAsync([new DesiredUpdate(deviceId, desired, expectedVersion)], cancellationToken).ConfigureAwait(false)).Count == 1;
    }

    public async Task<IReadOnlySet<string>> SaveDesiredManyAsync(IReadOnlyList<DesiredUpdate> updates, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(updates);
        var landed = new HashSet<string>(StringComparer.Ordinal);
        if (updates.Count == 0)
        {
            return landed;
        }

        // One transaction, one commit: a stage opening for thousands of devices pays for one fsync,
        // not one per device; each row is still its own compare-and-set, one statement, so replicas
        // sharing the database cannot both win. Rows are taken in id order so that two replicas
        // updating overlapping sets lock them in the same order and cannot deadlock.
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        foreach (var update in updates.OrderBy(u => u.DeviceId, StringComparer.Ordinal))
        {
            var changed = await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE devices SET desired = @desired, desired_version = @version WHERE id = @deviceId AND desired_version = @expectedVersion",
                new
                {
                    deviceId = update.DeviceId,
                    desired = Json(update.Desired, ContractsJsonContext.Default.DesiredState),
                    version = update.Desired.Version,
                    expectedVersion = update.ExpectedVersion,
                },
                transaction,
                cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (changed == 1)
            {
                landed.Add(update.DeviceId);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return landed;
    }

    public async Task<IReadOnlyDictionary<string, DesiredState>> GetDesiredManyAsync(IReadOnlyCollection<string> deviceIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(deviceIds);
        var found = new Dictionary<string, DesiredState>(StringComparer.Ordinal);
        if (deviceIds.Count == 0)
        {
            return found;
        }

        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<(string Id, string Desired)>(new CommandDefinition(
            $"SELECT id, desired FROM devices WHERE desired IS NOT NULL AND {IdIsOneOfIds}",
            new { ids = IdsParameter(deviceIds) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        foreach (var (id, desired) in rows)
        {
            found[id] = FromJson(desired, ContractsJsonContext.Default.DesiredState);
        }

        return found;
    }

    public async Task SaveReportedAsync(string deviceId, ReportedState reported, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reported);
        var document = Json(reported, ContractsJsonContext.Default.ReportedState);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);

        // Replicas sharing ingest may handle a device's reports out of order (one replica's backlog
        // after another's fresh message): the newer report, by the device's own clock, stays.
        // Compare-and-set on the stored document, so a report stored meanwhile is judged again.
        for (var attempt = 0; attempt < 10; attempt++)
        {
            // No row: the device is not enrolled; an empty text: it has reported nothing yet.
            var stored = await connection.QuerySingleOrDefaultAsync<string?>(new CommandDefinition(
                "SELECT COALESCE(reported, '') FROM devices WHERE id = @deviceId", new { deviceId }, cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (stored is null)
            {
                return;
            }

            var newer = stored.Length > 0 && FromJson(stored, ContractsJsonContext.Default.ReportedState).ReportedAt > reported.ReportedAt;
            var changed = await connection.ExecuteAsync(new CommandDefinition(
                newer
                    ? "UPDATE devices SET last_seen = @seen WHERE id = @deviceId"
                    : "UPDATE devices SET reported = @document, last_seen = @seen WHERE id = @deviceId AND COALESCE(reported, '') = @stored",
                new { deviceId, document, stored, seen = Time(receivedAt) },
                cancellationToken: cancellationToken)).ConfigureAwait(false);
            if (changed > 0 || newer)
            {
                return;
            }
        }

        throw new InvalidOperationException($"the reported state of {deviceId} kept changing under ten attempts to store it");
    }

    public async Task SaveStatusAsync(string deviceId, string status, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE devices SET status = @status, last_seen = @seen WHERE id = @deviceId",
            new { deviceId, status, seen = Time(at) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task SaveAttestationAsync(string deviceId, AttestationStatus attestation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(attestation);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE devices SET attestation = @attestation WHERE id = @deviceId",
            new { deviceId, attestation = Json(attestation, ContractsJsonContext.Default.AttestationStatus) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>The value of <c>@ids</c> for <see cref="IdIsOneOfIds"/>: one parameter however many ids.</summary>
    protected abstract object IdsParameter(IReadOnlyCollection<string> deviceIds);

#pragma warning disable CA1812 // Instantiated by Dapper.
    private sealed class DeviceRow
    {
        public string Id { get; set; } = "";
        public string Tags { get; set; } = "{}";
        public string CertificateThumbprint { get; set; } = "";
        public string? Certificate { get; set; }
        public string? Attestation { get; set; }
        public string EnrolledAt { get; set; } = "";
        public string Status { get; set; } = "";
        public string? LastSeen { get; set; }
        public string? Desired { get; set; }
        public string? Reported { get; set; }

        public DeviceRecord ToRecord() => new(
            Id,
            FromJson(Tags, ContractsJsonContext.Default.DictionaryStringString),
            CertificateThumbprint,
            ParseTime(EnrolledAt),
            Status,
            LastSeen is null ? null : ParseTime(LastSeen),
            Desired is null ? null : FromJson(Desired, ContractsJsonContext.Default.DesiredState),
            Reported is null ? null : FromJson(Reported, ContractsJsonContext.Default.ReportedState),
            Certificate,
            Attestation is null ? null : FromJson(Attestation, ContractsJsonContext.Default.AttestationStatus));
    }
#pragma warning restore CA1812
}
