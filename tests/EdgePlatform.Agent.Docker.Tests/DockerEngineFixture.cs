using Docker.DotNet;
using Docker.DotNet.Models;

namespace EdgePlatform.Agent.Docker.Tests;

/// <summary>
/// The Docker engine the integration tests run containers on: <c>EDGEPLATFORM_TEST_DOCKER</c>, or
/// <c>services.env</c> in <c>EDGEPLATFORM_TEST_SERVICES</c>, else this machine's default socket
/// except under CI=true, where a missing engine fails the run. Every container and image the
/// tests leave is removed at the end, found by the device label they all carry.
/// </summary>
public sealed class DockerEngineFixture : IAsyncLifetime
{
    public const string AddressVariable = "EDGEPLATFORM_TEST_DOCKER";

    /// <summary>Starts the name of everything the tests create on the shared engine.</summary>
    public const string NamePrefix = "edgeplatform-dockertests";

    private const string DefaultSocket = "/var/run/docker.sock";

    public DockerClient Client { get; private set; } = null!;

    public Uri Endpoint { get; private set; } = null!;

    /// <summary>Image ids the tests loaded, removed at the end.</summary>
    public System.Collections.Concurrent.ConcurrentBag<string> Images { get; } = [];

    public async Task InitializeAsync()
    {
        Endpoint = new Uri(ConfiguredAddress() ?? Fallback());
        Client = new DockerClientConfiguration(Endpoint).CreateClient();
        await Client.System.PingAsync();
    }

    public async Task DisposeAsync()
    {
        var leftovers = await Client.Containers.ListContainersAsync(new ContainersListParameters { All = true });
        foreach (var container in leftovers.Where(c => c.Names.Any(name => name.TrimStart('/').StartsWith(NamePrefix, StringComparison.Ordinal))))
        {
            await Client.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true });
        }

        foreach (var image in Images.Distinct())
        {
            try
            {
                await Client.Images.DeleteImageAsync(image, new ImageDeleteParameters { Force = true });
            }
            catch (DockerImageNotFoundException)
            {
                // Removed by its test already.
            }
        }

        Client.Dispose();
    }

    private static string? ConfiguredAddress()
    {
        if (Environment.GetEnvironmentVariable(AddressVariable) is { Length: > 0 } value)
        {
            return value;
        }

        var services = Environment.GetEnvironmentVariable("EDGEPLATFORM_TEST_SERVICES");
        var file = string.IsNullOrEmpty(services) ? null : Path.Combine(services, "services.env");
        return file is not null && File.Exists(file)
            ? File.ReadLines(file).Select(line => line.Split('=', 2)).Where(p => p.Length == 2 && p[0].Trim() == AddressVariable).Select(p => p[1].Trim()).LastOrDefault(v => v.Length > 0)
            : null;
    }

    private static string Fallback()
    {
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase) || !File.Exists(DefaultSocket))
        {
            throw new InvalidOperationException(
                $"No Docker engine for the integration tests: {AddressVariable} is not set and EDGEPLATFORM_TEST_SERVICES/services.env does not name one"
                + (File.Exists(DefaultSocket) ? " (CI=true: the default socket is not used)." : $", and {DefaultSocket} does not exist. Install docker.io and start dockerd."));
        }

        return "unix://" + DefaultSocket;
    }
}

[CollectionDefinition(Name)]
public sealed class DockerEngineGroup : ICollectionFixture<DockerEngineFixture>
{
    public const string Name = "docker engine";
}
