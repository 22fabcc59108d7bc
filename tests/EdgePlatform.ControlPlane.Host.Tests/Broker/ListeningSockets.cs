using System.Globalization;
using System.Net;

namespace EdgePlatform.Tests.Sockets;

/// <summary>
/// The addresses listening on a TCP port on this machine, read from <c>/proc/net/tcp</c> and
/// <c>/proc/net/tcp6</c> as <c>ss -ltn</c> reads them: what another host could reach, whatever a
/// server's own configuration says.
/// </summary>
internal static class ListeningSockets
{
    private const string Listen = "0A";

    public static IReadOnlyList<IPAddress> On(int port) =>
        [.. Listening().Where(socket => socket.EndPoint.Port == port).Select(socket => socket.EndPoint.Address)];

    /// <summary>Every socket this process listens on.</summary>
    public static IReadOnlyList<IPEndPoint> OfThisProcess() => OfProcess("self");

    /// <summary>Every socket a process of this user listens on, e.g. a server started by a test.</summary>
    public static IReadOnlyList<IPEndPoint> OfProcess(int processId) => OfProcess(processId.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// The sockets a process listens on, as <c>ss -ltnp</c> would attribute them: the kernel's
    /// socket inodes behind <c>/proc/PID/fd</c>, matched to the listening table.
    /// </summary>
    private static IReadOnlyList<IPEndPoint> OfProcess(string process)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var descriptor in Directory.EnumerateFileSystemEntries($"/proc/{process}/fd"))
        {
            try
            {
                // Links read "socket:[12345]".
                if (new FileInfo(descriptor).LinkTarget is { } target && target.StartsWith("socket:[", StringComparison.Ordinal))
                {
                    inodes.Add(target["socket:[".Length..^1]);
                }
            }
            catch (IOException)
            {
                // The descriptor closed between listing and reading it: nothing listens there.
            }
        }

        return [.. Listening().Where(socket => inodes.Contains(socket.Inode)).Select(socket => socket.EndPoint)];
    }

    private static IEnumerable<(IPEndPoint EndPoint, string Inode)> Listening()
    {
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table))
            {
                continue;
            }

            foreach (var line in File.ReadLines(table).Skip(1))
            {
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …,
                // addresses as HEXADDRESS:HEXPORT.
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 10 || fields[3] != Listen)
                {
                    continue;
                }

                var local = fields[1].Split(':');
                var port = int.Parse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                yield return (new IPEndPoint(Parse(local[0]), port), fields[9]);
            }
        }
    }

    /// <summary>The kernel prints each 32-bit word of the address in host (little-endian) order.</summary>
    private static IPAddress Parse(string hex)
    {
        var bytes = Convert.FromHexString(hex);
        for (var word = 0; word < bytes.Length; word += 4)
        {
            Array.Reverse(bytes, word, 4);
        }

        return new IPAddress(bytes);
    }
}
