using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace EdgePlatform.Security;

/// <summary>
/// A device's proof that it holds its bootstrap key: the key's signature over the device id, the
/// time of signing and the CSR. The time bounds how long a captured request can be replayed, and
/// the control plane accepts each proof once within that time.
/// </summary>
public static class BootstrapProof
{
    /// <summary>How far from the control plane's clock a proof's signing time may be. Five minutes.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);

    public static string Sign(ECDsa bootstrapKey, string deviceId, DateTimeOffset signedAt, string csr)
    {
        ArgumentNullException.ThrowIfNull(bootstrapKey);
        return Convert.ToBase64String(bootstrapKey.SignData(Message(deviceId, signedAt, csr), HashAlgorithmName.SHA256));
    }

    public static bool Verify(ECDsa bootstrapKey, string deviceId, DateTimeOffset signedAt, string csr, byte[] signature)
    {
        ArgumentNullException.ThrowIfNull(bootstrapKey);
        return bootstrapKey.VerifyData(Message(deviceId, signedAt, csr), signature, HashAlgorithmName.SHA256);
    }

    private static byte[] Message(string deviceId, DateTimeOffset signedAt, string csr) =>
        Encoding.UTF8.GetBytes($"edgeplatform-bootstrap-proof\n{deviceId}\n{signedAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)}\n{csr}");
}
