using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgePlatform.Security.Pki;

/// <summary>
/// The control plane's identity, given to a client out of band (at install, never from the
/// server itself): a CA certificate file its TLS certificate must chain to, or the SHA-256
/// fingerprint of that certificate or of a CA in the chain it presents. Without one, a client
/// would trust whatever answered first and take the device's whole chain of trust from it.
/// </summary>
public sealed class ServerCertificatePin
{
    private readonly X509Certificate2? _ca;
    private readonly byte[]? _fingerprint;
    private volatile string? _lastRefusal;

    private ServerCertificatePin(X509Certificate2? ca, byte[]? fingerprint)
    {
        _ca = ca;
        _fingerprint = fingerprint;
    }

    /// <summary>What the pin names, for messages: the CA's subject or the fingerprint.</summary>
    public string Description => _ca is not null
        ? $"CA '{_ca.Subject}' (SHA-256 {Fingerprint(_ca)})"
        : $"certificate fingerprint SHA-256 {Convert.ToHexStringLower(_fingerprint!)}";

    /// <summary>Why the last certificate was refused; null while none has been.</summary>
    public string? LastRefusal => _lastRefusal;

    /// <summary>
    /// The pin from a CA file (PEM) or a fingerprint (64 hex digits, ':' allowed); null when
    /// neither is given. Giving both is an error: one identity, one place.
    /// </summary>
    /// <exception cref="ArgumentException">The file holds no certificate, or the fingerprint is not SHA-256 hex.</exception>
    public static ServerCertificatePin? FromSettings(string? caFile, string? fingerprint, string caFileSetting, string fingerprintSetting)
    {
        if (!string.IsNullOrWhiteSpace(caFile) && !string.IsNullOrWhiteSpace(fingerprint))
        {
            throw new ArgumentException($"give {caFileSetting} or {fingerprintSetting}, not both");
        }

        if (!string.IsNullOrWhiteSpace(caFile))
        {
            try
            {
                return new ServerCertificatePin(X509Certificate2.CreateFromPem(File.ReadAllText(caFile)), null);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
            {
                throw new ArgumentException($"{caFileSetting} '{caFile}' is not a readable PEM certificate: {ex.Message}", ex);
            }
        }

        if (!string.IsNullOrWhiteSpace(fingerprint))
        {
            var hex = fingerprint.Replace(":", string.Empty, StringComparison.Ordinal).Trim();
            if (hex.Length != 64 || !hex.All(char.IsAsciiHexDigit))
            {
                throw new ArgumentException($"{fingerprintSetting} must be a SHA-256 fingerprint (64 hex digits, ':' allowed), not '{fingerprint}'");
            }

            return new ServerCertificatePin(null, Convert.FromHexString(hex));
        }

        return null;
    }

    public static ServerCertificatePin ForCa(X509Certificate2 ca) => new(ca, null);

    public static ServerCertificatePin ForFingerprint(string fingerprint) =>
        FromSettings(null, fingerprint, "CA file", "fingerprint")!;

    /// <summary>The lower-case hex SHA-256 of a certificate's DER bytes, as the server prints it.</summary>
    public static string Fingerprint(X509Certificate2 certificate) =>
        Convert.ToHexStringLower(SHA256.HashData(certificate.RawData));

    /// <summary>
    /// Whether <paramref name="presented"/> is the pinned server. With a CA file: it chains to that
    /// CA and names the host. With a fingerprint: it is that certificate, or it names the host and
    /// chains to a CA of that fingerprint among the certificates the server sent.
    /// </summary>
    /// <param name="presented">The certificate the server presented.</param>
    /// <param name="chain">The chain the TLS layer built, holding the certificates the server sent.</param>
    /// <param name="errors">What the TLS layer found; an untrusted root is left to this check.</param>
    public bool Accepts(X509Certificate2? presented, X509Chain? chain, SslPolicyErrors errors)
    {
        var refusal = Refusal(presented, chain, errors);
        if (refusal is not null)
        {
            _lastRefusal = $"its certificate {Describe(presented)} {refusal}";
            return false;
        }

        return true;
    }

    /// <summary>
    /// An HTTP handler that holds <paramref name="server"/> to <paramref name="pin"/> and every
    /// other host (an external registry) to the system's trusted roots. Without a pin the control
    /// plane is held to the system's roots too.
    /// </summary>
    public static HttpClientHandler Handler(Uri? server, ServerCertificatePin? pin) => new()
    {
        ServerCertificateCustomValidationCallback = (request, presented, chain, errors) =>
            pin is not null && server is not null && request.RequestUri is { } target
                && Uri.Compare(target, server, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0
                ? pin.Accepts(presented, chain, errors)
                : errors == SslPolicyErrors.None,
    };

    /// <summary>
    /// Null when a secret may be sent to <paramref name="server"/>; otherwise why not: over plain
    /// HTTP it may go only to this machine.
    /// </summary>
    public static string? CleartextRefusal(Uri server) =>
        server.Scheme == Uri.UriSchemeHttp && !server.IsLoopback
            ? $"{server.GetLeftPart(UriPartial.Authority)} is plain HTTP beyond this machine: anyone on the way would read the credential; use https://"
            : null;

    private string? Refusal(X509Certificate2? presented, X509Chain? chain, SslPolicyErrors errors)
    {
        if (presented is null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
        {
            return "was not presented";
        }

        var nameMatches = (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0;
        if (_fingerprint is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(presented.RawData), _fingerprint))
        {
            return null;
        }

        var anchor = _ca ?? Sent(presented, chain).FirstOrDefault(c => CryptographicOperations.FixedTimeEquals(SHA256.HashData(c.RawData), _fingerprint));
        if (anchor is null)
        {
            return $"does not match the pinned {Description}";
        }

        if (!nameMatches)
        {
            return "does not name the host it was reached at";
        }

        using var pinned = new X509Chain();
        pinned.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        pinned.ChainPolicy.CustomTrustStore.Add(anchor);
        pinned.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            pinned.ChainPolicy.ExtraStore.AddRange(Sent(presented, chain).ToArray());
        }

        return pinned.Build(presented)
            ? null
            : $"does not chain to the pinned {Description}: {string.Join("; ", pinned.ChainStatus.Select(s => s.StatusInformation.Trim()))}";
    }

    /// <summary>The certificates the server sent, as the TLS layer gathered them.</summary>
    private static IEnumerable<X509Certificate2> Sent(X509Certificate2 presented, X509Chain? chain)
    {
        if (chain is null)
        {
            yield break;
        }

        foreach (var element in chain.ChainElements)
        {
            if (!element.Certificate.RawData.AsSpan().SequenceEqual(presented.RawData))
            {
                yield return element.Certificate;
            }
        }

        foreach (var extra in chain.ChainPolicy.ExtraStore)
        {
            yield return extra;
        }
    }

    private static string Describe(X509Certificate2? certificate) =>
        certificate is null ? "(none)" : $"'{certificate.Subject}' (SHA-256 {Fingerprint(certificate)})";
}
