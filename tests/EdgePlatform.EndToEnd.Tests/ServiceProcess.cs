using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// An external service the tests run (mosquitto, docker-registry): started from its binary with
/// its output in a log file, stopped with SIGTERM (as a service manager stops it) or killed.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TextWriter _log;

    private ServiceProcess(Process process, TextWriter log)
    {
        _process = process;
        _log = log;
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The mosquitto binary tests/run.sh installed (EDGEPLATFORM_TEST_MOSQUITTO), or Debian's.</summary>
    public static string Mosquitto =>
        Environment.GetEnvironmentVariable("EDGEPLATFORM_TEST_MOSQUITTO") is { Length: > 0 } configured ? configured
        : File.Exists("/usr/sbin/mosquitto") ? "/usr/sbin/mosquitto"
        : throw new InvalidOperationException("mosquitto is not installed: run tests/run.sh, which installs it");

    public static ServiceProcess Start(string binary, IEnumerable<string> arguments, string logPath, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        var process = Process.Start(info)!;
        var log = TextWriter.Synchronized(new StreamWriter(logPath, append: true) { AutoFlush = true });
        process.OutputDataReceived += (_, e) => log.WriteLine(e.Data);
        process.ErrorDataReceived += (_, e) => log.WriteLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ServiceProcess(process, log);
    }

    /// <summary>
    /// mosquitto with the configuration the control plane wrote into <paramref name="directory"/>.
    /// As root mosquitto would switch to its own user, which cannot read the server key there.
    /// </summary>
    public static async Task<ServiceProcess> StartMosquittoAsync(string directory, string logPath)
    {
        var config = Path.Combine(directory, "run.conf");
        await File.WriteAllTextAsync(config, (Environment.UserName == "root" ? "user root\n" : string.Empty) + await File.ReadAllTextAsync(Path.Combine(directory, "mosquitto.conf")));
        return Start(Mosquitto, ["-c", config], logPath);
    }

    /// <summary>SIGTERM, and a kill if it has not exited within ten seconds.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        using (var terminate = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await terminate.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
        await _log.DisposeAsync();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
