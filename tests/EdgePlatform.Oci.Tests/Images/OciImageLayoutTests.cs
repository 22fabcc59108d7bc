using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using EdgePlatform.Contracts;
using EdgePlatform.Oci.Images;

namespace EdgePlatform.Oci.Tests.Images;

/// <summary>Reproducible layers and the image layout they go into, on real files.</summary>
public sealed class OciImageLayoutTests : IDisposable
{
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("edgeplatform-oci-images-");

    [Fact]
    public async Task WriteAsync_SameFilesWrittenAtDifferentTimes_SameDigests()
    {
        var root = RootFs("a");
        using var first = new MemoryStream();
        var one = await OciLayerWriter.WriteAsync(OciLayerWriter.EntriesOf(root), first, CancellationToken.None);
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddDays(-3));
        }

        using var second = new MemoryStream();
        var two = await OciLayerWriter.WriteAsync(OciLayerWriter.EntriesOf(root).Reverse(), second, CancellationToken.None);

        Assert.Equal(one, two);
        Assert.Equal(one.Descriptor.Digest, ContentDigest.Compute(first.ToArray()));
        Assert.Equal(first.Length, one.Descriptor.Size);
    }

    [Fact]
    public async Task WriteAsync_Files_SortedOwnedByRootWithTheirModesAndFixedTime()
    {
        var root = RootFs("b");
        using var layer = new MemoryStream();
        var written = await OciLayerWriter.WriteAsync(OciLayerWriter.EntriesOf(root), layer, CancellationToken.None);
        layer.Position = 0;

        var entries = new List<TarEntry>();
        using (var uncompressed = new MemoryStream())
        {
            await using (var gzip = new GZipStream(layer, CompressionMode.Decompress, leaveOpen: true))
            {
                await gzip.CopyToAsync(uncompressed);
            }

            Assert.Equal(written.DiffId, ContentDigest.Compute(uncompressed.ToArray()));
            uncompressed.Position = 0;
            await using var tar = new TarReader(uncompressed);
            while (await tar.GetNextEntryAsync() is { } entry)
            {
                entries.Add(entry);
            }
        }

        Assert.Equal(["opt/", "opt/scorer/", "opt/scorer/run", "tmp/"], entries.Select(entry => entry.Name));
        Assert.All(entries, entry => Assert.Equal((0, 0, OciLayerWriter.FixedTime), (entry.Uid, entry.Gid, entry.ModificationTime)));
        Assert.Equal((UnixFileMode)0x1ED, entries.Single(entry => entry.Name == "opt/scorer/run").Mode);
        Assert.Equal((UnixFileMode)0x3FF, entries.Single(entry => entry.Name == "tmp/").Mode);
    }

    [Fact]
    public async Task WriteIndexAsync_TwoPlatformsInOneLayout_IndexListsBothAndImagesReadBack()
    {
        var layout = await OciImageLayout.CreateOrOpenAsync(Path.Combine(_work.FullName, "layout"), CancellationToken.None);
        foreach (var platform in new[] { OciPlatform.LinuxArm64, OciPlatform.LinuxAmd64 })
        {
            var layer = await layout.WriteLayerAsync(OciLayerWriter.EntriesOf(RootFs(platform.Architecture)), CancellationToken.None);
            var entry = await layout.WriteImageAsync(ScorerImage.BaseConfig(platform, [layer.DiffId]), [layer.Descriptor], CancellationToken.None);
            await layout.WriteIndexAsync((await layout.ReadIndexAsync(CancellationToken.None)).With(entry), CancellationToken.None);
        }

        var images = await OciImageLayout.Open(layout.Root).ReadImagesAsync(CancellationToken.None);

        Assert.Equal(["linux/amd64", "linux/arm64"], images.Select(image => image.Entry.Platform!.ToString()));
        Assert.All(images, image => Assert.Equal(image.Entry.Platform, image.Config.Platform));
        Assert.Equal([ScorerImage.Executable, "scorer"], images[0].Config.Config.Entrypoint);
        var index = await File.ReadAllTextAsync(Path.Combine(layout.Root, OciImageLayout.IndexFileName));
        Assert.Contains("\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}", index, StringComparison.Ordinal);
        Assert.DoesNotContain("descriptor", index, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_DirectoryWithoutLayout_SaysWhatIsMissing()
    {
        var refused = Assert.Throws<OciLayoutException>(() => OciImageLayout.Open(_work.FullName));

        Assert.Contains("has no oci-layout", refused.Message, StringComparison.Ordinal);
    }

    public void Dispose() => _work.Delete(recursive: true);

    private string RootFs(string name)
    {
        var root = Directory.CreateDirectory(Path.Combine(_work.FullName, "rootfs-" + name)).FullName;
        Directory.CreateDirectory(Path.Combine(root, "opt", "scorer"));
        var run = Path.Combine(root, "opt", "scorer", "run");
        File.WriteAllText(run, "scorer " + name, Encoding.UTF8);
        File.SetUnixFileMode(run, (UnixFileMode)0x1ED);
        var tmp = Directory.CreateDirectory(Path.Combine(root, "tmp")).FullName;
        File.SetUnixFileMode(tmp, (UnixFileMode)0x3FF);
        return root;
    }
}
