using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using EdgePlatform.ControlPlane.Host.Broker;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.ControlPlane.Host.Tests.Broker;

/// <summary>
/// The control plane with mosquitto as its external broker: the server writes the mosquitto
/// configuration on start, this fixture runs mosquitto 2 with it on a free loopback port, and
/// waits until the control plane's own link is connected through it. tests/run.sh installs
/// mosquitto and names it in EDGEPLATFORM_TEST_MOSQUITTO; a missing mosquitto fails the tests.
/// </summary>
public sealed class MosquittoFixture : IAsyncLifetime
{
    private Process? _mosquitto;
    private string? _binary;
    private string? _config;

    public ControlPlaneFactory Server { get; private set; } = null!;

    public string ConfigDirectory { get; } = Directory.CreateTempSubdirectory("edgeplatform-mosquitto-").FullName;

    /// <summary>The mosquitto binary, or null where it is not installed.</summary>
    public static string? Binary =>
        Environment.GetEnvironmentVariable("EDGEPLATFORM_TEST_MOSQUITTO") is { Length: > 0 } configured ? configured
        : File.Exists("/usr/sbin/mosquitto") ? "/usr/sbin/mosquitto"
        : null;

    public async Task InitializeAsync()
    {
        var binary = Binary
            ?? throw new InvalidOperationException("mosquitto is not installed: run tests/run.sh, which installs it (or apt-get install mosquitto)");

        var port = FreePort();
        Server = ControlPlaneFactory.With(new Dictionary<string, string>
        {
            ["Broker:Mode"] = "external",
            ["Broker:Host"] = "127.0.0.1",
            ["Broker:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Broker:MosquittoConfigDirectory"] = ConfigDirectory,
        });
        var link = Server.Services.GetRequiredService<MqttDeviceLink>();

        // As root, mosquitto would switch to its own user, which cannot read the server key here.
        _binary = binary;
        _config = Path.Combine(ConfigDirectory, "test-mosquitto.conf");
        await File.WriteAllTextAsync(_config, (Environment.UserName == "root" ? "user root\n" : string.Empty)
            + await File.ReadAllTextAsync(Path.Combine(ConfigDirectory, MosquittoConfigWriter.ConfigFileName)));
        StartBroker();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await link.WaitConnectedAsync(timeout.Token);
    }

    /// <summary>Stops and starts mosquitto (it reads the revocation list when its listener starts), then waits for the control plane to reconnect.</summary>
    public async Task RestartBrokerAsync()
    {
        await StopBrokerAsync();
        StartBroker();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var link = Server.Services.GetRequiredService<MqttDeviceLink>();
        while (!link.IsConnected)
        {
            await Task.Delay(50, timeout.Token);
        }
    }

    private void StartBroker()
    {
        _mosquitto = Process.Start(new ProcessStartInfo(_binary!, ["-c", _config!])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        _mosquitto.OutputDataReceived += (_, _) => { };
        _mosquitto.ErrorDataReceived += (_, _) => { };
        _mosquitto.BeginOutputReadLine();
        _mosquitto.BeginErrorReadLine();
    }

    private async Task StopBrokerAsync()
    {
        if (_mosquitto is { HasExited: false })
        {
            _mosquitto.Kill();
            await _mosquitto.WaitForExitAsync();
        }

        _mosquitto?.Dispose();
        _mosquitto = null;
    }

    public async Task DisposeAsync()
    {
        await StopBrokerAsync();
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }

        Directory.Delete(ConfigDirectory, recursive: true);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
