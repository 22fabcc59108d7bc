using System.Security.Cryptography;
using System.Text;

namespace EdgePlatform.ControlPlane.Host.Datasets;

/// <summary>
/// Seals dataset connection strings with AES-GCM under a key kept in the key directory
/// (<c>datasets/connections.key</c>, owner-only), so the database alone does not give them away.
/// Replicas share the key, so what one sealed another opens.
/// </summary>
public sealed class ConnectionSecrets
{
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly byte[] _key;

    /// <param name="keyFile">The key's file.</param>
    /// <param name="create">Whether a missing key is created; without it, a missing key is an error.</param>
    public ConnectionSecrets(string keyFile, bool create = true)
    {
        if (File.Exists(keyFile))
        {
            _key = Convert.FromBase64String(File.ReadAllText(keyFile).Trim());
        }
        else if (!create)
        {
            throw new InvalidOperationException($"The dataset connection key '{keyFile}' is missing, and this server may not create it (Server:CreateKeys is false)");
        }
        else
        {
            Directory.CreateDirectory(Path.GetDirectoryName(keyFile)!);
            _key = RandomNumberGenerator.GetBytes(32);
            File.WriteAllText(keyFile, Convert.ToBase64String(_key));
            File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    public byte[] Seal(string connectionString)
    {
        var plain = Encoding.UTF8.GetBytes(connectionString);
        var sealedBytes = new byte[NonceSize + TagSize + plain.Length];
        var nonce = sealedBytes.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagSize);
        aes.Encrypt(nonce, plain, sealedBytes.AsSpan(NonceSize + TagSize), sealedBytes.AsSpan(NonceSize, TagSize));
        return sealedBytes;
    }

    public string Open(byte[] sealedBytes)
    {
        ArgumentNullException.ThrowIfNull(sealedBytes);
        var plain = new byte[sealedBytes.Length - NonceSize - TagSize];
        using var aes = new AesGcm(_key, TagSize);
        aes.Decrypt(sealedBytes.AsSpan(0, NonceSize), sealedBytes.AsSpan(NonceSize + TagSize), sealedBytes.AsSpan(NonceSize, TagSize), plain);
        return Encoding.UTF8.GetString(plain);
    }
}
