using System.Security.Cryptography;
using System.Text;

namespace EdgePlatform.Security;

/// <summary>
/// Per-device enrollment keys derived from a group key, as Azure DPS does: HMAC-SHA256 of the
/// device id under the group key. Devices carry only their own derived key, so one device's
/// key cannot enroll another id, and the group key never leaves the operator.
/// </summary>
public static class EnrollmentKeys
{
    public static string Derive(string groupKey, string deviceId)
    {
        ArgumentException.ThrowIfNullOrEmpty(groupKey);
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        return Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(groupKey), Encoding.UTF8.GetBytes(deviceId)));
    }

    /// <summary>Constant-time comparison of a presented key with the one derived for <paramref name="deviceId"/>.</summary>
    public static bool Matches(string groupKey, string deviceId, string presented) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(Derive(groupKey, deviceId)), Encoding.UTF8.GetBytes(presented));
}
