using System.Security.Cryptography;
using System.Security.Cryptography.Pkcs;
using System.Security.Cryptography.X509Certificates;

namespace EdgePlatform.Security;

/// <summary>
/// Verifies CMS detached signatures: the signature must match the content, and every signer's
/// certificate must chain to one of the pinned roots (never the system store) with the
/// code-signing usage, valid at verification time.
/// </summary>
public sealed class CmsSignatureVerifier
{
    private readonly X509Certificate2Collection _trustedRoots;
    private readonly TimeProvider _timeProvider;

    public CmsSignatureVerifier(IEnumerable<X509Certificate2> trustedRoots, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(trustedRoots);
        _trustedRoots = [.. trustedRoots];
        _timeProvider = timeProvider;
        if (_trustedRoots.Count == 0)
        {
            throw new ArgumentException("at least one trusted root is required", nameof(trustedRoots));
        }
    }

    public VerificationResult Verify(ReadOnlySpan<byte> content, ReadOnlySpan<byte> signature)
    {
        var cms = new SignedCms(new ContentInfo(content.ToArray()), detached: true);
        try
        {
            cms.Decode(signature);
        }
        catch (CryptographicException ex)
        {
            return VerificationResult.Fail(VerificationChecks.Signature, $"the signature is not a CMS SignedData structure ({ex.Message})");
        }

        if (cms.SignerInfos.Count == 0)
        {
            return VerificationResult.Fail(VerificationChecks.Signature, "the signature has no signer");
        }

        foreach (var signerInfo in cms.SignerInfos)
        {
            try
            {
                signerInfo.CheckSignature(verifySignatureOnly: true);
            }
            catch (CryptographicException ex)
            {
                return VerificationResult.Fail(VerificationChecks.Signature, $"the signature does not match the content ({ex.Message})");
            }

            if (signerInfo.Certificate is not { } signerCertificate)
            {
                return VerificationResult.Fail(VerificationChecks.SignerTrust, "the signature does not carry its signer's certificate");
            }

            var chainProblem = ValidateChain(signerCertificate, cms.Certificates);
            if (chainProblem is not null)
            {
                return VerificationResult.Fail(VerificationChecks.SignerTrust, chainProblem);
            }
        }

        return VerificationResult.Ok;
    }

    private string? ValidateChain(X509Certificate2 signer, X509Certificate2Collection extra)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_trustedRoots);
        chain.ChainPolicy.ExtraStore.AddRange(extra);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = _timeProvider.GetUtcNow().UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(SigningCertificates.CodeSigningOid));
        if (chain.Build(signer))
        {
            return null;
        }

        var reasons = chain.ChainStatus
            .Where(s => s.Status != X509ChainStatusFlags.NoError)
            .Select(s => s.StatusInformation.Trim())
            .Distinct(StringComparer.Ordinal);
        return $"signer '{signer.Subject}' does not chain to a trusted root: {string.Join("; ", reasons)}";
    }
}

/// <summary>The outcome of a check; <see cref="Check"/> names the check that failed.</summary>
public sealed record VerificationResult(bool Succeeded, string? Check, string? Reason)
{
    public static VerificationResult Ok { get; } = new(true, null, null);

    public static VerificationResult Fail(string check, string reason) => new(false, check, reason);

    public override string ToString() => Succeeded ? "verified" : $"{Check} check failed: {Reason}";
}

/// <summary>Names of the checks a model package goes through before it is installed.</summary>
public static class VerificationChecks
{
    public const string ManifestDigest = "manifest-digest";
    public const string ManifestSize = "manifest-size";
    public const string Signature = "signature";
    public const string SignerTrust = "signer-trust";
    public const string ManifestFormat = "manifest-format";
    public const string LayerDigest = "layer-digest";
    public const string LayerSize = "layer-size";
}
