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

    public static IReadOnlyList<IPAddress> On(int port)
    {
        var found = new List<IPAddress>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table))
            {
                continue;
            }

            foreach (var line in File.ReadLines(table).Skip(1))
            {
                // sl local_address rem_address st …, addresses as HEXADDRESS:HEXPORT.
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 4 || fields[3] != Listen)
                {
                    continue;
                }

                var local = fields[1].Split(':');
                if (int.Parse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture) == port)
                {
                    found.Add(Parse(local[0]));
                }
            }
        }

        return found;
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
