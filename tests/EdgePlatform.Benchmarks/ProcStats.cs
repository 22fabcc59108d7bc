using System.Globalization;

namespace EdgePlatform.Benchmarks;

/// <summary>
/// What /proc says of a process and of the machine: CPU time used (user + system), resident
/// memory, load average. Shared by the benchmark projects (linked into each).
/// </summary>
internal static class ProcStats
{
    private const double ClockTicksPerSecond = 100;

    /// <summary>CPU time the process has used; what a phase cost it, whatever else the machine ran.</summary>
    public static TimeSpan Cpu(int processId)
    {
        var stat = File.ReadAllText($"/proc/{processId}/stat");

        // Fields 14 and 15 (user and system time in clock ticks) come after the command name, which is in parentheses and may hold spaces.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / ClockTicksPerSecond);
    }

    public static double CpuSeconds(int processId) => Cpu(processId).TotalSeconds;

    public static long ResidentBytes(int processId)
    {
        var line = File.ReadLines($"/proc/{processId}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>The 1, 5 and 15 minute load averages.</summary>
    public static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]);
}
