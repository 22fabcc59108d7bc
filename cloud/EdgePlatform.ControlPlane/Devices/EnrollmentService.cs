using System.Security.Cryptography;
using System.Text;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Security;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Devices;

/// <summary>Admits devices that prove the group enrollment key, and checks their broker credentials.</summary>
public sealed partial class EnrollmentService(
    IDeviceStore store,
    IEnrollmentGroupStore groups,
    ITrustPublisher trust,
    IOptions<EnrollmentOptions> options,
    TimeProvider timeProvider,
    ILogger<EnrollmentService> logger)
{
    private const int MaxTags = 32;

    public async Task<EnrollmentResponse> EnrollAsync(EnrollmentRequest? request, CancellationToken cancellationToken)
    {
        if (request is null)
        {
            throw new RequestValidationException("body", "expected a JSON object with deviceId and enrollmentKey");
        }

        if (DeviceIds.Describe(request.DeviceId) is { } idProblem)
        {
            throw new RequestValidationException("deviceId", idProblem);
        }

        if (string.IsNullOrEmpty(request.EnrollmentKey))
        {
            throw new RequestValidationException("enrollmentKey", "is required");
        }

        var settings = options.Value;
        if (!await KeyIsValidAsync(settings, request.DeviceId, request.EnrollmentKey, cancellationToken).ConfigureAwait(false))
        {
            LogEnrollmentRefused(request.DeviceId);
            throw new CredentialRejectedException("the enrollment key is not valid");
        }

        var tags = ValidateTags(request.Tags);
        var existing = await store.GetDeviceAsync(request.DeviceId, cancellationToken).ConfigureAwait(false);
        if (existing?.Status == DeviceStatuses.Revoked)
        {
            LogEnrollmentRefused(request.DeviceId);
            throw new CredentialRejectedException($"device '{request.DeviceId}' is revoked");
        }

        var secret = DeviceCredentials.NewSecret();
        var device = new DeviceRecord(
            request.DeviceId,
            tags,
            DeviceCredentials.Hash(secret),
            existing?.EnrolledAt ?? timeProvider.GetUtcNow(),
            existing?.Status ?? DeviceStatuses.NeverConnected,
            existing?.LastSeen,
            existing?.Desired,
            existing?.Reported);
        await store.UpsertDeviceAsync(device, cancellationToken).ConfigureAwait(false);
        LogEnrolled(request.DeviceId, existing is not null);

        return new EnrollmentResponse(
            request.DeviceId,
            settings.MqttHost,
            settings.MqttPort,
            secret,
            settings.RegistryUrl,
            settings.MetadataUrl,
            trust.TrustedRoot);
    }

    public async Task<EnrollmentGroupInfo> CreateGroupAsync(CreateEnrollmentGroupRequest? request, CancellationToken cancellationToken)
    {
        var name = request?.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 100)
        {
            throw new RequestValidationException("name", "is required (1-100 characters)");
        }

        var group = new EnrollmentGroupRecord(
            Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)),
            name,
            Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
            timeProvider.GetUtcNow(),
            null);
        await groups.AddGroupAsync(group, cancellationToken).ConfigureAwait(false);
        LogGroupCreated(group.Id, name);
        return group.ToInfo(withKey: true);
    }

    public async Task<IReadOnlyList<EnrollmentGroupInfo>> ListGroupsAsync(CancellationToken cancellationToken) =>
        [.. (await groups.ListGroupsAsync(cancellationToken).ConfigureAwait(false)).Select(g => g.ToInfo())];

    public async Task RevokeGroupAsync(string id, CancellationToken cancellationToken)
    {
        if (!await groups.RevokeGroupAsync(id, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false))
        {
            throw new NotFoundException($"enrollment group '{id}' does not exist");
        }

        LogGroupRevoked(id);
    }

    /// <summary>
    /// The server's default group key itself (local tooling), or a key derived for this very
    /// device id from the default key or from an enrollment group that is not revoked.
    /// </summary>
    private async Task<bool> KeyIsValidAsync(EnrollmentOptions settings, string deviceId, string presented, CancellationToken cancellationToken)
    {
        if (CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(settings.GroupKey))
            || EnrollmentKeys.Matches(settings.GroupKey, deviceId, presented))
        {
            return true;
        }

        foreach (var group in await groups.ListGroupsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (group.RevokedAt is null && EnrollmentKeys.Matches(group.Key, deviceId, presented))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when <paramref name="secret"/> is the current broker credential of an enrolled device.</summary>
    public async Task<bool> ValidateCredentialAsync(string deviceId, string? secret, CancellationToken cancellationToken)
    {
        if (!DeviceIds.IsValid(deviceId) || string.IsNullOrEmpty(secret))
        {
            return false;
        }

        var device = await store.GetDeviceAsync(deviceId, cancellationToken).ConfigureAwait(false);
        return device is not null && device.Status != DeviceStatuses.Revoked && DeviceCredentials.Matches(secret, device.CredentialHash);
    }

    private static Dictionary<string, string> ValidateTags(IReadOnlyDictionary<string, string>? tags)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (tags is null)
        {
            return result;
        }

        if (tags.Count > MaxTags)
        {
            throw new RequestValidationException("tags", $"at most {MaxTags} tags are allowed");
        }

        foreach (var (key, value) in tags)
        {
            if (string.IsNullOrWhiteSpace(key) || key.Length > 63 || value is null || value.Length > 256)
            {
                throw new RequestValidationException("tags", $"tag '{key}' needs a key of 1-63 characters and a value of at most 256");
            }

            result[key] = value;
        }

        return result;
    }

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Enrollment group {Id} ({Name}) created")]
    private partial void LogGroupCreated(string id, string name);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Enrollment group {Id} revoked: keys derived from it no longer enroll devices")]
    private partial void LogGroupRevoked(string id);

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Device {DeviceId} enrolled (re-enrollment: {Again})")]
    private partial void LogEnrolled(string deviceId, bool again);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Enrollment of device {DeviceId} refused: the enrollment key is not valid or the device is revoked")]
    private partial void LogEnrollmentRefused(string deviceId);
}
