using System.Security.Cryptography.X509Certificates;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Security;

namespace EdgePlatform.ControlPlane.Host.Signing;

/// <summary>
/// The server's model-signing keys, created on first start in <c>keys/</c> of the data
/// directory with mode 0600: a root CA (the trust root devices pin at enrollment) and a
/// code-signing certificate it issued, which signs manifests.
/// </summary>
public sealed class FileSigningKeys : IModelSigner, IDisposable
{
    private const string RootCertificateFile = "root.crt";
    private const string RootKeyFile = "root.key";
    private const string SigningCertificateFile = "signing.crt";
    private const string SigningKeyFile = "signing.key";

    private readonly X509Certificate2 _signingCertificate;
    private readonly CmsModelSigner _signer;
    private readonly TimeProvider _timeProvider;

    public FileSigningKeys(string keyDirectory, TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
        Directory.CreateDirectory(keyDirectory);
        File.SetUnixFileMode(keyDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var rootCertificatePath = Path.Combine(keyDirectory, RootCertificateFile);
        if (!File.Exists(rootCertificatePath))
        {
            CreateKeys(keyDirectory, timeProvider.GetUtcNow());
        }

        TrustRootPem = File.ReadAllText(rootCertificatePath);
        _signingCertificate = SigningCertificates.LoadWithKey(
            File.ReadAllText(Path.Combine(keyDirectory, SigningCertificateFile)),
            File.ReadAllText(Path.Combine(keyDirectory, SigningKeyFile)));
        _signer = new CmsModelSigner(_signingCertificate);
    }

    public string TrustRootPem { get; }

    public byte[] Sign(ReadOnlySpan<byte> content) => _signer.Sign(content, _timeProvider.GetUtcNow());

    public void Dispose() => _signingCertificate.Dispose();

    private static void CreateKeys(string directory, DateTimeOffset now)
    {
        using var root = SigningCertificates.CreateRoot("EdgePlatform model root", now, TimeSpan.FromDays(3650));
        using var signing = SigningCertificates.IssueSigningCertificate(root, "EdgePlatform model signing", now, TimeSpan.FromDays(365));

        // Keys first, certificates last: the root certificate's presence marks a complete key set.
        WritePrivate(Path.Combine(directory, RootKeyFile), SigningCertificates.ExportPrivateKeyPem(root));
        WritePrivate(Path.Combine(directory, SigningKeyFile), SigningCertificates.ExportPrivateKeyPem(signing));
        WritePrivate(Path.Combine(directory, SigningCertificateFile), signing.ExportCertificatePem());
        WritePrivate(Path.Combine(directory, RootCertificateFile), root.ExportCertificatePem());
    }

    private static void WritePrivate(string path, string content)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        using (var stream = new FileStream(path, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
        }

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
