using System.Diagnostics;
using System.Globalization;

namespace EdgePlatform.Benchmarks.RolloutEngine;

/// <summary>
/// Wall time, CPU time and bytes handed to write(2) (<c>wchar</c> in /proc/self/io: database
/// pages, WAL and journal alike) of one phase, whatever else the machine runs.
/// </summary>
internal sealed class Measured
{
    private readonly Stopwatch _wall = Stopwatch.StartNew();
    private readonly TimeSpan _cpu = Process.GetCurrentProcess().TotalProcessorTime;
    private readonly long _written = BytesWritten();

    public (double WallMs, double CpuMs, long Written) Stop()
    {
        _wall.Stop();
        return (_wall.Elapsed.TotalMilliseconds, (Process.GetCurrentProcess().TotalProcessorTime - _cpu).TotalMilliseconds, BytesWritten() - _written);
    }

    private static long BytesWritten()
    {
        foreach (var line in File.ReadLines("/proc/self/io"))
        {
            if (line.StartsWith("wchar:", StringComparison.Ordinal))
            {
                return long.Parse(line["wchar:".Length..].Trim(), CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException("/proc/self/io has no wchar line");
    }
}
