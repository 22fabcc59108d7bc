namespace EdgePlatform.Cli.Processes;

/// <summary>
/// The processes one command started. Disposing stops them in reverse start order (agents
/// before the server they talk to); if edgectl itself is torn down, they are killed so
/// nothing is left running.
/// </summary>
public sealed class ProcessGroup : IAsyncDisposable
{
    private readonly List<HostProcess> _processes = [];
    private readonly Lock _gate = new();

    public ProcessGroup()
    {
        AppDomain.CurrentDomain.ProcessExit += KillAll;
    }

    public HostProcess Start(string name, string assembly, IEnumerable<string> arguments, string? logPath)
    {
        var process = HostProcess.Start(name, assembly, arguments, logPath);
        lock (_gate)
        {
            _processes.Add(process);
        }

        return process;
    }

    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= KillAll;
        List<HostProcess> processes;
        lock (_gate)
        {
            processes = [.. _processes];
            _processes.Clear();
        }

        processes.Reverse();
        foreach (var process in processes)
        {
            await process.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void KillAll(object? sender, EventArgs e)
    {
        lock (_gate)
        {
            foreach (var process in _processes)
            {
                process.Kill();
            }
        }
    }
}
