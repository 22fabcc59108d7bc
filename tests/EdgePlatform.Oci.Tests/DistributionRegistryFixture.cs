using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace EdgePlatform.Oci.Tests;

/// <summary>
/// The CNCF distribution registry (Debian <c>docker-registry</c>). Its address comes from
/// <c>EDGEPLATFORM_TEST_REGISTRY</c> or from <c>services.env</c> in <c>EDGEPLATFORM_TEST_SERVICES</c>,
/// both written by tests/run.sh. Without them the fixture starts the installed binary itself, except
/// under CI=true, where a missing service is a failure of the run, not something to patch over.
/// </summary>
public sealed class DistributionRegistryFixture : IAsyncLifetime
{
    public const string AddressVariable = "EDGEPLATFORM_TEST_REGISTRY";
    public const string ServicesVariable = "EDGEPLATFORM_TEST_SERVICES";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private Process? _process;
    private string? _directory;

    /// <summary>Talks to the loopback registry directly, whatever proxy the environment names.</summary>
    public HttpClient Http { get; } = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };

    public Uri Registry { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (ConfiguredAddress() is { } address)
        {
            Registry = new Uri(address);
            return;
        }

        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException(
                $"CI=true and no distribution registry is configured: {AddressVariable} is not set and {ServicesVariable}/services.env does not name one. "
                + "Run the suite through tests/run.sh, which installs and starts docker-registry.");
        }

        var binary = FindOnPath("docker-registry")
            ?? throw new InvalidOperationException(
                $"No distribution registry for the integration tests: {AddressVariable} is not set and docker-registry is not installed. "
                + "Run tests/run.sh, which installs and starts it (or apt-get install docker-registry).");
        await StartAsync(binary);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (_process is not null)
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }

        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static string? ConfiguredAddress()
    {
        if (Environment.GetEnvironmentVariable(AddressVariable) is { Length: > 0 } address)
        {
            return address;
        }

        var services = Environment.GetEnvironmentVariable(ServicesVariable);
        var file = string.IsNullOrEmpty(services) ? null : Path.Combine(services, "services.env");
        if (file is null || !File.Exists(file))
        {
            return null;
        }

        return File.ReadLines(file)
            .Select(line => line.Split('=', 2))
            .Where(parts => parts.Length == 2 && parts[0].Trim() == AddressVariable)
            .Select(parts => parts[1].Trim())
            .LastOrDefault(value => value.Length > 0);
    }

    private async Task StartAsync(string binary)
    {
        _directory = Directory.CreateTempSubdirectory("edgeplatform-registry-").FullName;
        var port = FreePort();
        var config = Path.Combine(_directory, "registry.yml");
        await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $"""
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: {Path.Combine(_directory, "data")}
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{port}
            """));

        var start = new ProcessStartInfo(binary, ["serve", config])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {binary}");
        var log = new System.Text.StringBuilder();
        _process.OutputDataReceived += (_, e) => Append(log, e.Data);
        _process.ErrorDataReceived += (_, e) => Append(log, e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        Registry = new Uri($"http://127.0.0.1:{port}/");
        using var timeout = new CancellationTokenSource(StartTimeout);
        try
        {
            while (true)
            {
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"docker-registry exited with {_process.ExitCode} before answering: {Snapshot(log)}");
                }

                try
                {
                    using var response = await Http.GetAsync(new Uri(Registry, "v2/"), timeout.Token);
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        return;
                    }
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }

                // The registry announces readiness only by answering; poll it.
                await Task.Delay(TimeSpan.FromMilliseconds(100), timeout.Token);
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"docker-registry did not answer GET /v2/ on {Registry} within {StartTimeout}: {Snapshot(log)}");
        }
    }

    private static void Append(System.Text.StringBuilder log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            log.AppendLine(line);
        }
    }

    private static string Snapshot(System.Text.StringBuilder log)
    {
        lock (log)
        {
            return log.ToString();
        }
    }

    private static string? FindOnPath(string command) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, command))
            .FirstOrDefault(File.Exists);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
