using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace EdgePlatform.Benchmarks;

/// <summary>The agent's scoring host started as a child process of this harness, so its memory is its own.</summary>
internal sealed class AgentProcess : IAsyncDisposable
{
    private readonly Process _process;

    private AgentProcess(Process process, int brokerPort, long startedAt)
    {
        _process = process;
        BrokerPort = brokerPort;
        StartedAt = startedAt;
    }

    public int BrokerPort { get; }

    public int ProcessId => _process.Id;

    /// <summary><see cref="Stopwatch.GetTimestamp"/> just before the process was started.</summary>
    public long StartedAt { get; }

    public static AgentProcess Start(BenchModel model, params string[] settings)
    {
        var port = FreePort();
        var info = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Started as `dotnet exec EdgePlatform.Benchmarks.dll` (as the test suite starts it), the
        // process path is the dotnet host, which needs the assembly named again.
        string[] self = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? ["exec", typeof(AgentProcess).Assembly.Location] : [];
        foreach (var argument in (string[])[.. self, "agent-host", model.CardPath, model.OnnxPath, $"--LocalBroker:Port={port}", "--InferenceHttp:Port=0", .. settings])
        {
            info.ArgumentList.Add(argument);
        }

        var startedAt = Stopwatch.GetTimestamp();
        var process = Process.Start(info) ?? throw new InvalidOperationException("the agent host did not start");
        process.OutputDataReceived += (_, line) => Forward(line.Data);
        process.ErrorDataReceived += (_, line) => Forward(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new AgentProcess(process, port, startedAt);
    }

    /// <summary>Resident set size now, in MiB, from /proc.</summary>
    public double RssMiB()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
            }
        }

        return double.NaN;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static void Forward(string? line)
    {
        if (!string.IsNullOrEmpty(line))
        {
            Console.Error.WriteLine($"  [agent] {line}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
