using System.Security.Cryptography;
using System.Security.Cryptography.Pkcs;
using System.Security.Cryptography.X509Certificates;

namespace EdgePlatform.Security;

/// <summary>CMS (PKCS#7) detached signatures: one SignerInfo per signing certificate, SHA-256.</summary>
public static class CmsDetachedSignature
{
    private static readonly Oid Sha256 = new("2.16.840.1.101.3.4.2.1");

    public static byte[] Sign(ReadOnlySpan<byte> content, IEnumerable<X509Certificate2> signers, DateTimeOffset signingTime)
    {
        ArgumentNullException.ThrowIfNull(signers);
        var cms = new SignedCms(new ContentInfo(content.ToArray()), detached: true);
        foreach (var certificate in signers)
        {
            if (!certificate.HasPrivateKey)
            {
                throw new ArgumentException($"certificate '{certificate.Subject}' has no private key", nameof(signers));
            }

            var signer = new CmsSigner(SubjectIdentifierType.IssuerAndSerialNumber, certificate)
            {
                DigestAlgorithm = Sha256,
                IncludeOption = X509IncludeOption.EndCertOnly,
            };
            signer.SignedAttributes.Add(new Pkcs9SigningTime(signingTime.UtcDateTime));
            cms.ComputeSignature(signer, silent: true);
        }

        return cms.Encode();
    }
}
