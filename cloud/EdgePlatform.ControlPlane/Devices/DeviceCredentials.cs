using System.Security.Cryptography;
using System.Text;

namespace EdgePlatform.ControlPlane.Devices;

/// <summary>
/// Device broker credentials are 256-bit random secrets, so a single SHA-256 is enough to
/// store them; a slow password hash would only add latency to every broker connect.
/// </summary>
public static class DeviceCredentials
{
    public static string NewSecret() => Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string Hash(string secret) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    public static bool Matches(string secret, string hash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(secret)), Encoding.ASCII.GetBytes(hash));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
