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

    /// <summary>
    /// CPU seconds of a process and every descendant still running, plus what its exited children
    /// used: a server that works in child processes (PostgreSQL's backends) counted whole.
    /// </summary>
    public static double TreeCpuSeconds(int processId)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Fields(pid) is { } fields)
            {
                var parent = int.Parse(fields[1], CultureInfo.InvariantCulture);
                (children.TryGetValue(parent, out var list) ? list : children[parent] = []).Add(pid);
            }
        }

        var root = Fields(processId) ?? throw new InvalidOperationException($"process {processId} is not running");
        var total = (long.Parse(root[13], CultureInfo.InvariantCulture) + long.Parse(root[14], CultureInfo.InvariantCulture)) / ClockTicksPerSecond;
        var pending = new Stack<int>([processId]);
        while (pending.TryPop(out var pid))
        {
            total += Fields(pid) is { } fields ? (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / ClockTicksPerSecond : 0;
            foreach (var child in children.GetValueOrDefault(pid) ?? [])
            {
                pending.Push(child);
            }
        }

        return total;
    }

    /// <summary>The fields of /proc/PID/stat after the command name (state first), or null when the process is gone.</summary>
    private static string[]? Fields(int processId)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{processId}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static long ResidentBytes(int processId)
    {
        var line = File.ReadLines($"/proc/{processId}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>The 1, 5 and 15 minute load averages.</summary>
    public static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]);
}
