using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;

namespace EdgePlatform.Cli.Processes;

/// <summary>
/// A server or agent started as its own process. Output goes to a log file (or is passed
/// through); stopping sends SIGTERM so the host shuts down cleanly, and SIGKILL after a grace
/// period.
/// </summary>
public sealed partial class HostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter? _log;
    private int _disposed;

    private HostProcess(Process process, StreamWriter? log, string name, string? logPath)
    {
        _process = process;
        _log = log;
        Name = name;
        LogPath = logPath;
    }

    public string Name { get; }

    public string? LogPath { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>The control-plane server's entry assembly.</summary>
    public static string ServerAssembly => Locate("EdgePlatform.ServerHost", "EDGEPLATFORM_SERVER_DLL", "EdgePlatform.ControlPlane.Host.dll");

    /// <summary>The agent's entry assembly.</summary>
    public static string AgentAssembly => Locate("EdgePlatform.AgentHost", "EDGEPLATFORM_AGENT_DLL", "EdgePlatform.Agent.dll");

    /// <summary>The fleet simulator's entry assembly.</summary>
    public static string SimulatorAssembly => Locate("EdgePlatform.SimHost", "EDGEPLATFORM_FLEETSIM_DLL", "EdgePlatform.FleetSim.dll");

    /// <summary>The directory of the agent build edgectl would start, or null when there is none.</summary>
    public static string? TryLocateAgentDirectory()
    {
        try
        {
            return Path.GetDirectoryName(AgentAssembly);
        }
        catch (CliException)
        {
            return null;
        }
    }

    /// <summary>Starts <paramref name="assembly"/> with <c>dotnet exec</c>; with a log path, its output goes there.</summary>
    public static HostProcess Start(string name, string assembly, IEnumerable<string> arguments, string? logPath)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = logPath is not null,
            RedirectStandardError = logPath is not null,
            RedirectStandardInput = false,
        };
        info.ArgumentList.Add("exec");
        info.ArgumentList.Add(assembly);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // Hosts read their settings from their own appsettings.json.
        info.WorkingDirectory = Path.GetDirectoryName(assembly)!;
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["Logging__Console__FormatterName"] = "simple";

        // One timestamped line per entry, so a log can be searched and read against another's.
        info.Environment["Logging__Console__FormatterOptions__SingleLine"] = "true";
        info.Environment["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ";

        StreamWriter? log = null;
        if (logPath is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
            log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        if (log is not null)
        {
            var gate = new Lock();
            process.OutputDataReceived += (_, e) => Append(log, gate, e.Data);
            process.ErrorDataReceived += (_, e) => Append(log, gate, e.Data);
        }

        if (!process.Start())
        {
            throw new CliException($"could not start {name} ({assembly})");
        }

        if (log is not null)
        {
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        return new HostProcess(process, log, name, logPath);
    }

    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>Asks the process to stop (SIGTERM), then kills it if it has not exited within <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }

        _ = SendSignal(_process.Id, SigTerm);
        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Kills the process at once, as a crash or power loss would.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>The last lines of the log, to explain a failure.</summary>
    public string LogTail(int lines = 20)
    {
        if (LogPath is null || !File.Exists(LogPath))
        {
            return string.Empty;
        }

        using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var all = reader.ReadToEnd().Split('\n');
        return string.Join('\n', all.TakeLast(lines));
    }

    public async ValueTask DisposeAsync()
    {
        // A process may be stopped by its owner and again by the group it was started in.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        _process.Dispose();
        if (_log is not null)
        {
            await _log.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static void Append(StreamWriter log, Lock gate, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (gate)
        {
            log.WriteLine(line);
        }
    }

    private static string Locate(string metadataKey, string environmentVariable, string fileName)
    {
        if (Environment.GetEnvironmentVariable(environmentVariable) is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? configured : throw new CliException($"{environmentVariable} points to '{configured}', which does not exist");
        }

        // An installed layout keeps each host in a folder beside edgectl's.
        var sibling = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", Path.GetFileNameWithoutExtension(fileName), fileName));
        if (File.Exists(sibling))
        {
            return sibling;
        }

        var built = typeof(HostProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => string.Equals(a.Key, metadataKey, StringComparison.Ordinal))?.Value;
        if (built is not null && File.Exists(built))
        {
            return Path.GetFullPath(built);
        }

        throw new CliException($"cannot find {fileName}: build the solution (dotnet build EdgePlatform.sln) or set {environmentVariable}");
    }

    private const int SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
