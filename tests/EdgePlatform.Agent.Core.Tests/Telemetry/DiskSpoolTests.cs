using System.Text;
using EdgePlatform.Agent.Core.Telemetry;

namespace EdgePlatform.Agent.Core.Tests.Telemetry;

public sealed class DiskSpoolTests : IDisposable
{
    private const long Bound = 128 * 1024;

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void Crc32_StandardCheckInput_MatchesZlib() =>
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));

    [Fact]
    public void Peek_AfterAppends_ReturnsOldestFirstWithIncreasingIds()
    {
        using var spool = Open();
        for (var i = 0; i < 5; i++)
        {
            spool.Append(Payload(i));
        }

        var entries = spool.Peek(3, long.MaxValue);

        Assert.Equal([1L, 2L, 3L], entries.Select(e => e.Id));
        Assert.Equal(["entry-0", "entry-1", "entry-2"], entries.Select(Text));
        Assert.Equal(5, spool.Count);
    }

    [Fact]
    public void Acknowledge_Prefix_RemovesOnlyThoseAndNextPeekContinuesAfterThem()
    {
        using var spool = Open();
        for (var i = 0; i < 5; i++)
        {
            spool.Append(Payload(i));
        }

        spool.Acknowledge(2);

        Assert.Equal(3, spool.Count);
        Assert.Equal([3L, 4L, 5L], spool.Peek(10, long.MaxValue).Select(e => e.Id));
    }

    [Fact]
    public void Open_AfterRestart_KeepsUnacknowledgedEntriesInOrderAndNeverReusesIds()
    {
        using (var spool = Open())
        {
            for (var i = 0; i < 4; i++)
            {
                spool.Append(Payload(i));
            }

            spool.Acknowledge(2);
        }

        using var reopened = Open();
        var next = reopened.Append(Payload(4));

        Assert.Equal(["entry-2", "entry-3", "entry-4"], reopened.Peek(10, long.MaxValue).Select(Text));
        Assert.Equal(5, next);
        Assert.Equal(0, reopened.Recovery.TornBytes);
    }

    [Fact]
    public void Open_AfterEverythingAcknowledged_ContinuesIdsFromTheCursor()
    {
        using (var spool = Open())
        {
            spool.Append(Payload(0));
            spool.Append(Payload(1));
            spool.Acknowledge(2);
        }

        using var reopened = Open();

        Assert.Equal(0, reopened.Count);
        Assert.Equal(3, reopened.Append(Payload(2)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    [InlineData(17)]
    public void Open_TornLastRecord_TruncatesItAndKeepsEveryWholeRecord(int bytesOfLastRecordWritten)
    {
        using (var spool = Open())
        {
            spool.Append(Payload(0));
            spool.Append(Payload(1));
        }

        // A kill -9 in the middle of the third write leaves only its first bytes.
        var segment = Directory.GetFiles(_directory.Path, "*.log").Single();
        var whole = File.ReadAllBytes(segment);
        using (var reopen = Open())
        {
            reopen.Append(Payload(2));
        }

        var withThird = File.ReadAllBytes(segment);
        File.WriteAllBytes(segment, withThird[..(whole.Length + bytesOfLastRecordWritten)]);

        using var recovered = Open();

        Assert.Equal(bytesOfLastRecordWritten, recovered.Recovery.TornBytes);
        Assert.Equal(["entry-0", "entry-1"], recovered.Peek(10, long.MaxValue).Select(Text));
        Assert.Equal(whole.Length, new FileInfo(segment).Length);
        Assert.Equal(3, recovered.Append(Payload(3)));
        Assert.Equal(["entry-0", "entry-1", "entry-3"], recovered.Peek(10, long.MaxValue).Select(Text));
    }

    [Fact]
    public void Open_DamagedByteInLastRecord_ChecksumDropsThatRecordOnly()
    {
        using (var spool = Open())
        {
            spool.Append(Payload(0));
            spool.Append(Payload(1));
        }

        var segment = Directory.GetFiles(_directory.Path, "*.log").Single();
        var bytes = File.ReadAllBytes(segment);
        bytes[^2] ^= 0xFF;
        File.WriteAllBytes(segment, bytes);

        using var recovered = Open();

        Assert.Equal(["entry-0"], recovered.Peek(10, long.MaxValue).Select(Text));
        Assert.True(recovered.Recovery.TornBytes > 0);
    }

    [Fact]
    public void Append_PastBoundDropOldest_ShedsOldestCountsThemAndStaysWithinBound()
    {
        using var spool = Open(ShedPolicy.DropOldest);
        const int Appended = 200;
        for (var i = 0; i < Appended; i++)
        {
            Assert.NotNull(spool.Append(new byte[1000]));
            Assert.InRange(spool.Bytes, 0, Bound);
        }

        var live = spool.Peek(int.MaxValue, long.MaxValue);

        Assert.True(spool.ShedTotal > 0, "the bound must have been reached");
        Assert.Equal(Appended, spool.ShedTotal + spool.Count);

        // What is left is the newest entries, contiguous up to the last one appended.
        Assert.Equal(Enumerable.Range((int)spool.ShedTotal + 1, (int)spool.Count).Select(i => (long)i), live.Select(e => e.Id));
    }

    [Fact]
    public void Append_PastBoundDropNewest_RefusesNewEntriesAndCountsEachOne()
    {
        using var spool = Open(ShedPolicy.DropNewest);
        var accepted = new List<long>();
        var refused = 0;
        for (var i = 0; i < 200; i++)
        {
            if (spool.Append(new byte[1000]) is { } id)
            {
                accepted.Add(id);
            }
            else
            {
                refused++;
            }
        }

        Assert.True(refused > 0, "the bound must have been reached");
        Assert.Equal(refused, spool.ShedTotal);
        Assert.Equal(accepted, spool.Peek(int.MaxValue, long.MaxValue).Select(e => e.Id));
        Assert.Equal(Enumerable.Range(1, accepted.Count).Select(i => (long)i), accepted);
    }

    [Fact]
    public void ShedTotal_AfterRestart_IsKept()
    {
        long shed;
        using (var spool = Open(ShedPolicy.DropNewest))
        {
            for (var i = 0; i < 200; i++)
            {
                spool.Append(new byte[1000]);
            }

            shed = spool.ShedTotal;
        }

        using var reopened = Open(ShedPolicy.DropNewest);

        Assert.True(shed > 0);
        Assert.Equal(shed, reopened.ShedTotal);
    }

    [Fact]
    public void Acknowledge_WholeSegments_DeletesTheirFiles()
    {
        using var spool = Open();
        for (var i = 0; i < 100; i++)
        {
            spool.Append(new byte[1000]);
        }

        var before = Directory.GetFiles(_directory.Path, "*.log").Length;
        spool.Acknowledge(100);

        Assert.True(before > 1, "the entries must span several segments");
        Assert.Empty(Directory.GetFiles(_directory.Path, "*.log"));
        Assert.Equal(0, spool.Bytes);
    }

    [Fact]
    public void Append_EntryLargerThanASegment_ThrowsNamingTheLimit()
    {
        using var spool = Open();

        var error = Assert.Throws<ArgumentException>(() => spool.Append(new byte[spool.MaxPayloadBytes + 1]));

        Assert.Contains("exceeds the queue's largest entry", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_BoundBelowMinimum_ThrowsNamingTheMinimum()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => DiskSpool.Open(_directory.Path, 1024, ShedPolicy.DropOldest));

        Assert.Contains("at least 65536 bytes", error.Message, StringComparison.Ordinal);
    }

    private DiskSpool Open(ShedPolicy policy = ShedPolicy.DropOldest) => DiskSpool.Open(_directory.Path, Bound, policy);

    private static byte[] Payload(int i) => Encoding.UTF8.GetBytes($"entry-{i}");

    private static string Text(SpoolEntry entry) => Encoding.UTF8.GetString(entry.Payload);
}
