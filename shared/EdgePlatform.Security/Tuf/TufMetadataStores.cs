using System.Collections.Concurrent;

namespace EdgePlatform.Security.Tuf;

/// <summary>
/// Where a device keeps the metadata it has verified (the pinned root and the newest timestamp
/// and targets it accepted), so that nothing older is accepted later.
/// </summary>
public interface ITufMetadataStore
{
    /// <summary>The stored document, or null when there is none.</summary>
    byte[]? Read(string name);

    /// <summary>Replaces the document; a crash leaves the old one or the new one, never half of either.</summary>
    void Write(string name, ReadOnlySpan<byte> bytes);

    void Delete(string name);
}

/// <summary>Metadata in files of one directory, written atomically and flushed to disk: what an agent keeps across restarts.</summary>
public sealed class DirectoryTufMetadataStore(string directory) : ITufMetadataStore
{
    public byte[]? Read(string name)
    {
        var path = Path.Combine(directory, name);
        return File.Exists(path) ? File.ReadAllBytes(path) : null;
    }

    public void Write(string name, ReadOnlySpan<byte> bytes)
    {
        var path = Path.Combine(directory, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        MetadataFiles.WriteAtomically(path, bytes);
    }

    public void Delete(string name) => File.Delete(Path.Combine(directory, name));
}

/// <summary>
/// Metadata held in memory for the life of the object: for a device without a disk of its own,
/// such as a simulated one. Rollback and freeze protection hold for as long as the store lives.
/// </summary>
public sealed class InMemoryTufMetadataStore : ITufMetadataStore
{
    private readonly ConcurrentDictionary<string, byte[]> _documents = new(StringComparer.Ordinal);

    public byte[]? Read(string name) => _documents.TryGetValue(name, out var bytes) ? bytes : null;

    public void Write(string name, ReadOnlySpan<byte> bytes) => _documents[name] = bytes.ToArray();

    public void Delete(string name) => _documents.TryRemove(name, out _);
}
