using System.Text.Json;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;
using EdgePlatform.Security.Pki;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// The control plane over HTTPS, and agents that know it only by the pin given at install: one
/// with the server's fingerprint enrolls; one pinned to another CA refuses to send its
/// enrollment key and says why.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the class through IAsyncLifetime.DisposeAsync.")]
public sealed class HttpsEnrollmentTests : IAsyncLifetime
{
    private readonly ProcessGroup _processes = new();
    private readonly string _root = Directory.CreateTempSubdirectory("edgeplatform-https-").FullName;
    private ServerEndpoints _endpoints = null!;
    private ApiClient _api = null!;

    public async Task InitializeAsync()
    {
        var data = Path.Combine(_root, "server");
        var tokenFile = Path.Combine(_root, "admin.token");
        var server = _processes.Start(
            "server",
            HostProcess.ServerAssembly,
            [$"--Server:DataDirectory={data}", "--Server:HttpPort=0", "--Server:MqttPort=0", $"--Server:InitialAdminTokenFile={tokenFile}", "--Server:Tls=on"],
            Path.Combine(_root, "server.log"));
        _endpoints = await Wait.ForFileAsync(Path.Combine(data, ServerEndpoints.FileName), server, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.ServerEndpoints));
        await Wait.UntilAsync(() => Task.FromResult(File.Exists(tokenFile)), "the initial admin token");
        _api = new ApiClient(new Uri(_endpoints.HttpUrl), (await File.ReadAllTextAsync(tokenFile)).Trim(), ServerCertificatePin.ForFingerprint(_endpoints.CertificateFingerprint!));
    }

    public async Task DisposeAsync()
    {
        _api?.Dispose();
        await _processes.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A log still being flushed keeps the folder; it is under the system temp directory.
        }
    }

    [Fact]
    public async Task Agent_GivenTheServersFingerprint_EnrollsOverHttps()
    {
        Assert.StartsWith("https://", _endpoints.HttpUrl, StringComparison.Ordinal);

        var agent = StartAgent("https-pinned", _endpoints.CertificateFingerprint!);

        await Wait.UntilAsync(
            async () =>
            {
                Assert.False(agent.HasExited, agent.LogTail(40));
                return (await _api.ListDevicesAsync(default)).Any(d => d.Id == "https-pinned" && d.Status == DeviceStatuses.Online);
            },
            "the pinned agent to enroll and come online");
    }

    [Fact]
    public async Task Agent_PinnedToAnotherCa_RefusesToEnrollAndSaysWhy()
    {
        using var other = CertificateAuthority.Create("someone else's CA", DateTimeOffset.UtcNow);

        var agent = StartAgent("https-mispinned", ServerCertificatePin.Fingerprint(other.Certificate));

        await Wait.UntilAsync(
            () => Task.FromResult(File.Exists(agent.LogPath) && ReadShared(agent.LogPath!).Contains("is not the control plane this agent was given", StringComparison.Ordinal)),
            "the agent to refuse the server's certificate");
        var log = ReadShared(agent.LogPath!);
        Assert.Contains("does not match the pinned certificate fingerprint", log, StringComparison.Ordinal);
        Assert.DoesNotContain(await _api.ListDevicesAsync(default), d => d.Id == "https-mispinned");
    }

    [Fact]
    public async Task Edgectl_WithoutThePin_RefusesTheServerAndWithItIsServed()
    {
        var unpinned = await Edgectl.RunAsync("devices", "list", "--server", _endpoints.HttpUrl, "--token", _api.Token!);
        var pinned = await Edgectl.RunAsync("devices", "list", "--server", _endpoints.HttpUrl, "--token", _api.Token!, "--ca-fingerprint", _endpoints.CertificateFingerprint!);

        Assert.NotEqual(0, unpinned.ExitCode);
        Assert.Contains("not trusted by this machine's roots; pass --ca-file or --ca-fingerprint", unpinned.Output, StringComparison.Ordinal);
        Assert.True(pinned.ExitCode == 0, pinned.Output);
    }

    private HostProcess StartAgent(string deviceId, string fingerprint) =>
        _processes.Start(
            deviceId,
            HostProcess.AgentAssembly,
            [
                $"--Agent:DataDirectory={Path.Combine(_root, deviceId)}", $"--Agent:DeviceId={deviceId}", $"--Agent:ControlPlaneUrl={_endpoints.HttpUrl}",
                $"--Agent:ControlPlaneFingerprint={fingerprint}", $"--Agent:EnrollmentKey={PlatformFixture.DeviceKey(_endpoints, deviceId)}",
                "--LocalBroker:Port=0", "--InferenceHttp:Port=0",
            ],
            Path.Combine(_root, deviceId + ".log"));

    /// <summary>A log the agent is still writing.</summary>
    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }
}
