using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgePlatform.Security.Attestation;

/// <summary>
/// Signs attestation evidence on the device. The software form signs with the device key; a
/// TPM form would return a quote over the evidence digest instead. Either way the verifier
/// receives (format, evidence bytes, signature bytes).
/// </summary>
public interface IEvidenceSigner
{
    string Format { get; }

    byte[] Sign(ReadOnlySpan<byte> evidence);
}

/// <summary>Checks the signature part of attestation evidence for one format.</summary>
public interface IEvidenceVerifier
{
    string Format { get; }

    /// <summary>
    /// True when <paramref name="signature"/> over <paramref name="evidence"/> was made by the
    /// device that holds <paramref name="deviceCertificate"/>; <paramref name="reason"/> says why not.
    /// </summary>
    bool Verify(ReadOnlySpan<byte> evidence, ReadOnlySpan<byte> signature, X509Certificate2 deviceCertificate, out string reason);
}

/// <summary>Evidence signed by the device's ECDSA P-256 key (the key its certificate was issued to).</summary>
public sealed class SoftwareEvidenceSigner(ECDsa deviceKey) : IEvidenceSigner
{
    public const string FormatName = "ecdsa-p256-sha256";

    public string Format => FormatName;

    public byte[] Sign(ReadOnlySpan<byte> evidence) => deviceKey.SignData(evidence, HashAlgorithmName.SHA256);
}

public sealed class SoftwareEvidenceVerifier : IEvidenceVerifier
{
    public string Format => SoftwareEvidenceSigner.FormatName;

    public bool Verify(ReadOnlySpan<byte> evidence, ReadOnlySpan<byte> signature, X509Certificate2 deviceCertificate, out string reason)
    {
        using var key = deviceCertificate.GetECDsaPublicKey();
        if (key is null)
        {
            reason = "the device certificate has no ECDSA key";
            return false;
        }

        if (!key.VerifyData(evidence, signature, HashAlgorithmName.SHA256))
        {
            reason = "the evidence is not signed by this device's key";
            return false;
        }

        reason = string.Empty;
        return true;
    }
}
