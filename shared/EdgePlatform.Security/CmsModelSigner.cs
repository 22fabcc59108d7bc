using System.Security.Cryptography;
using System.Security.Cryptography.Pkcs;
using System.Security.Cryptography.X509Certificates;

namespace EdgePlatform.Security;

/// <summary>Makes CMS (PKCS#7) detached signatures with a code-signing certificate.</summary>
public sealed class CmsModelSigner
{
    private readonly X509Certificate2 _signingCertificate;
    private readonly IReadOnlyList<X509Certificate2> _intermediates;

    public CmsModelSigner(X509Certificate2 signingCertificate, IReadOnlyList<X509Certificate2>? intermediates = null)
    {
        ArgumentNullException.ThrowIfNull(signingCertificate);
        if (!signingCertificate.HasPrivateKey)
        {
            throw new ArgumentException("the signing certificate has no private key", nameof(signingCertificate));
        }

        _signingCertificate = signingCertificate;
        _intermediates = intermediates ?? [];
    }

    public X509Certificate2 Certificate => _signingCertificate;

    public byte[] Sign(ReadOnlySpan<byte> content, DateTimeOffset signingTime)
    {
        var cms = new SignedCms(new ContentInfo(content.ToArray()), detached: true);
        var signer = new CmsSigner(SubjectIdentifierType.IssuerAndSerialNumber, _signingCertificate)
        {
            DigestAlgorithm = new Oid("2.16.840.1.101.3.4.2.1"),
            IncludeOption = X509IncludeOption.EndCertOnly,
        };
        signer.SignedAttributes.Add(new Pkcs9SigningTime(signingTime.UtcDateTime));
        foreach (var intermediate in _intermediates)
        {
            signer.Certificates.Add(intermediate);
        }

        cms.ComputeSignature(signer, silent: true);
        return cms.Encode();
    }
}
