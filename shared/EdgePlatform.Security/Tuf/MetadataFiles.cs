namespace EdgePlatform.Security.Tuf;

/// <summary>How both sides store metadata: a crash leaves the old file or the new one, never half of either.</summary>
internal static class MetadataFiles
{
    public static void WriteAtomically(string path, ReadOnlySpan<byte> bytes)
    {
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }
}
