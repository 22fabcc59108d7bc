using System.Globalization;

namespace EdgePlatform.Benchmarks;

/// <summary>CPU time a process has used (user + system), from /proc; what a phase cost each side, whatever else the machine ran.</summary>
internal static class CpuTime
{
    private const double ClockTicksPerSecond = 100;

    public static TimeSpan Of(int processId)
    {
        var stat = File.ReadAllText($"/proc/{processId}/stat");
        // Fields after the command name, which is in parentheses and may hold spaces.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / ClockTicksPerSecond);
    }
}
