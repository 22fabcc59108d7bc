using System.Security.Cryptography;
using System.Text;

namespace EdgePlatform.Security.Attestation;

/// <summary>
/// How an agent build is measured, the same way on the device (its own directory) and for the
/// policy (a released build's directory): SHA-256 over every binary and runtime file of the
/// build in ordinal path order, each contributing its relative path and its own SHA-256.
/// Configuration files and symbols are left out: configuration is measured on its own.
/// </summary>
public static class AgentMeasurements
{
    private static readonly string[] MeasuredSuffixes = [".dll", ".so", ".dylib", ".deps.json", ".runtimeconfig.json"];

    public static string MeasureBuild(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"agent build directory '{directory}' does not exist");
        }

        var root = Path.GetFullPath(directory);
        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(IsMeasured)
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
        {
            throw new FileNotFoundException($"'{directory}' holds no agent binaries to measure");
        }

        using var total = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files)
        {
            using var stream = File.OpenRead(Path.Combine(root, file));
            var line = $"{file}\0{Convert.ToHexStringLower(SHA256.HashData(stream))}\n";
            total.AppendData(Encoding.UTF8.GetBytes(line));
        }

        return "sha256:" + Convert.ToHexStringLower(total.GetHashAndReset());
    }

    /// <summary>SHA-256 of configuration entries (key=value lines in ordinal key order).</summary>
    public static string MeasureConfiguration(IEnumerable<KeyValuePair<string, string?>> entries)
    {
        var text = new StringBuilder();
        foreach (var (key, value) in entries.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            text.Append(key).Append('=').Append(value).Append('\n');
        }

        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static bool IsMeasured(string path)
    {
        var name = Path.GetFileName(path);
        if (MeasuredSuffixes.Any(s => name.EndsWith(s, StringComparison.OrdinalIgnoreCase)))
        {
            return true;
        }

        // The native app host: an executable file without an extension.
        return Path.GetExtension(name).Length == 0 && (File.GetUnixFileMode(path) & UnixFileMode.UserExecute) != 0;
    }
}
