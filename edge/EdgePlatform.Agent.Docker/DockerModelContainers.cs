using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Docker.DotNet.Models;
using EdgePlatform.Agent.Core.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Docker;

/// <summary>
/// <see cref="IModelContainers"/> over the Docker Engine API. A model's container runs locked
/// down: read-only root with a tmpfs <c>/tmp</c>, every capability dropped, no new privileges,
/// memory (without swap), CPU and process limits, its v2 port published on 127.0.0.1 only, and
/// a bearer token made for it alone, mounted read-only. It counts as started once the engine
/// reports its health check healthy; its output goes into the agent's log.
/// </summary>
public sealed partial class DockerModelContainers : IModelContainers
{
    /// <summary>Where the token file is mounted inside the container, and the scorer is told to read it.</summary>
    public const string TokenPath = "/run/edgeplatform/token";

    private const int ContainerPort = 8080;

    private readonly IDockerClient _docker;
    private readonly DockerOptions _options;
    private readonly Func<CancellationToken, ValueTask<string>> _deviceId;
    private readonly string _tokenDirectory;
    private readonly string _namePrefix;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly ContainerImageLoader _images;

    // Names of the containers this runtime created (or is creating) and has not removed: never strays.
    private readonly ConcurrentDictionary<string, byte> _held = new(StringComparer.Ordinal);

    /// <remarks>
    /// <c>deviceId</c> gives this device's id, the label that marks its containers (known once it
    /// has enrolled); <c>tokenDirectory</c> holds the token files the engine mounts; <c>namePrefix</c>
    /// starts every container name; <c>platform</c> overrides the OCI platform of this machine.
    /// </remarks>
    public DockerModelContainers(
        IDockerClient docker,
        IRegistryClient registry,
        IOptions<DockerOptions> options,
        Func<CancellationToken, ValueTask<string>> deviceId,
        string tokenDirectory,
        TimeProvider timeProvider,
        ILogger<DockerModelContainers> logger,
        string namePrefix = "edgeplatform-model",
        string? platform = null)
    {
        ArgumentNullException.ThrowIfNull(docker);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(deviceId);
        ArgumentException.ThrowIfNullOrEmpty(tokenDirectory);
        _docker = docker;
        _options = options.Value;
        _deviceId = deviceId;
        _tokenDirectory = tokenDirectory;
        _namePrefix = namePrefix;
        _timeProvider = timeProvider;
        _logger = logger;
        Platform = platform ?? PlatformOf(RuntimeInformation.OSArchitecture);
        _images = new ContainerImageLoader(docker, registry, Platform, logger);
    }

    /// <summary>The platform whose image this device runs, OCI's <c>os/architecture</c>.</summary>
    public string Platform { get; }

    /// <summary>The OCI platform of an architecture this agent runs on.</summary>
    public static string PlatformOf(Architecture architecture) => architecture switch
    {
        Architecture.X64 => "linux/amd64",
        Architecture.Arm64 => "linux/arm64",
        _ => $"linux/{architecture.ToString().ToLowerInvariant()}",
    };

    public async Task<IModelContainer> StartAsync(InstalledModel model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        var release = $"{model.Reference.Name}:{model.Reference.Version}";
        Directory.CreateDirectory(_tokenDirectory);
        var imageId = await _images.EnsureLoadedAsync(model, _tokenDirectory, cancellationToken).ConfigureAwait(false);
        var deviceId = await _deviceId(cancellationToken).ConfigureAwait(false);

        var name = $"{_namePrefix}-{Sanitize(model.Reference.Name)}-{Sanitize(model.Reference.Version)}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var tokenFile = WriteToken(name, token);
        var port = FreeLoopbackPort();
        _held[name] = 0;
        string? id = null;
        try
        {
            var created = await _docker.Containers.CreateContainerAsync(
                new CreateContainerParameters
                {
                    Name = name,
                    Image = imageId,
                    Labels = new Dictionary<string, string>(StringComparer.Ordinal)
                    {
                        [ContainerLabels.Device] = deviceId,
                        [ContainerLabels.Model] = model.Reference.Name,
                        [ContainerLabels.Version] = model.Reference.Version,
                        [ContainerLabels.ManifestDigest] = model.Reference.ManifestDigest,
                    },
                    Env = [$"InferenceHttp__BearerTokenFile={TokenPath}"],
                    ExposedPorts = new Dictionary<string, EmptyStruct> { [$"{ContainerPort}/tcp"] = default },

                    // The image's own test, probed often enough that a healthy container is seen
                    // within a second instead of the engine's default 30 s.
                    Healthcheck = new HealthConfig
                    {
                        Interval = TimeSpan.FromMilliseconds(_options.HealthCheckIntervalMs),
                        Timeout = TimeSpan.FromSeconds(5),
                        Retries = 3,
                    },
                    HostConfig = new HostConfig
                    {
                        Memory = _options.MemoryLimitMb * 1024L * 1024L,
                        MemorySwap = _options.MemoryLimitMb * 1024L * 1024L,
                        NanoCPUs = (long)(_options.CpuLimit * 1e9),
                        PidsLimit = _options.PidsLimit,
                        ReadonlyRootfs = true,
                        CapDrop = ["ALL"],
                        SecurityOpt = ["no-new-privileges"],
                        Tmpfs = new Dictionary<string, string> { ["/tmp"] = "rw,noexec,nosuid,size=64m" },
                        Binds = [$"{tokenFile}:{TokenPath}:ro"],
                        PortBindings = new Dictionary<string, IList<PortBinding>>
                        {
                            [$"{ContainerPort}/tcp"] = [new PortBinding { HostIP = "127.0.0.1", HostPort = port.ToString(CultureInfo.InvariantCulture) }],
                        },
                        RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
                    },
                },
                cancellationToken).ConfigureAwait(false);
            id = created.ID;
            await _docker.Containers.StartContainerAsync(id, new ContainerStartParameters(), cancellationToken).ConfigureAwait(false);
            var container = new ModelContainer(this, name, id, new Uri($"http://127.0.0.1:{port}/"), token, tokenFile, TimeSpan.FromMilliseconds(_options.ScoringTimeoutMs));
            Log.ContainerStarted(_logger, name, id, release, container.BaseAddress);
            container.FollowOutput(_docker, _logger);
            await WaitHealthyAsync(container, release, cancellationToken).ConfigureAwait(false);
            return container;
        }
        catch (Exception ex)
        {
            // Nothing half-started stays behind: a failed start is reverted by the caller from a clean slate.
            await RemoveAsync(name, id, tokenFile, CancellationToken.None).ConfigureAwait(false);
            if (ex is ModelStageException stage)
            {
                Log.ContainerFailed(_logger, name, release, stage.Message);
                throw;
            }

            if (ex is DockerApiException api)
            {
                throw new ModelStageException($"the container engine refused the container of {release}: {api.StatusCode} {api.ResponseBody}", ex);
            }

            throw;
        }
    }

    public async Task<int> RemoveStraysAsync(CancellationToken cancellationToken)
    {
        IList<ContainerListResponse> listed;
        try
        {
            var deviceId = await _deviceId(cancellationToken).ConfigureAwait(false);
            listed = await _docker.Containers.ListContainersAsync(
                new ContainersListParameters
                {
                    All = true,
                    Filters = new Dictionary<string, IDictionary<string, bool>>
                    {
                        ["label"] = new Dictionary<string, bool> { [$"{ContainerLabels.Device}={deviceId}"] = true },
                    },
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // No engine, or no identity yet: nothing of this agent's can be running there. The next reconcile looks again.
            Log.StrayScanFailed(_logger, ex.Message);
            return 0;
        }

        var removed = 0;
        foreach (var container in listed)
        {
            var name = container.Names.FirstOrDefault()?.TrimStart('/') ?? container.ID;
            if (_held.ContainsKey(name))
            {
                continue;
            }

            try
            {
                await _docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, cancellationToken).ConfigureAwait(false);
            }
            catch (DockerContainerNotFoundException)
            {
                continue;
            }
            catch (DockerApiException ex)
            {
                Log.RemoveFailed(_logger, name, container.ID, ex);
                continue;
            }

            DeleteToken(Path.Combine(_tokenDirectory, name + ".token"));
            container.Labels.TryGetValue(ContainerLabels.Model, out var modelName);
            container.Labels.TryGetValue(ContainerLabels.Version, out var version);
            Log.StrayRemoved(_logger, name, container.ID, modelName ?? "?", version ?? "?");
            removed++;
        }

        return removed;
    }

    /// <summary>Stops (politely, then by force after the stop timeout) and removes a container, and forgets it.</summary>
    internal async Task RemoveAsync(string name, string? id, string tokenFile, CancellationToken cancellationToken)
    {
        try
        {
            if (id is not null)
            {
                await _docker.Containers.StopContainerAsync(
                    id, new ContainerStopParameters { WaitBeforeKillSeconds = (uint)_options.StopTimeoutSeconds }, cancellationToken).ConfigureAwait(false);
                await _docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, cancellationToken).ConfigureAwait(false);
                Log.ContainerRemoved(_logger, name, id);
            }
        }
        catch (DockerContainerNotFoundException)
        {
            // Gone already: what removal wanted.
        }
        catch (Exception ex) when (ex is DockerApiException or HttpRequestException or IOException)
        {
            // Left running for the next reconcile's stray pass, which removes what the runtime no longer holds.
            Log.RemoveFailed(_logger, name, id ?? "-", ex);
        }
        finally
        {
            _held.TryRemove(name, out _);
            DeleteToken(tokenFile);
        }
    }

    private async Task WaitHealthyAsync(ModelContainer container, string release, CancellationToken cancellationToken)
    {
        var started = _timeProvider.GetTimestamp();
        var deadline = TimeSpan.FromSeconds(_options.HealthTimeoutSeconds);
        while (true)
        {
            var inspected = await _docker.Containers.InspectContainerAsync(container.Id, cancellationToken).ConfigureAwait(false);
            var state = inspected.State;
            var health = state?.Health;
            if (string.Equals(health?.Status, "healthy", StringComparison.Ordinal))
            {
                var elapsed = _timeProvider.GetElapsedTime(started);
                Log.ContainerHealthy(_logger, container.Name, release, elapsed.TotalMilliseconds);
                return;
            }

            if (health is null)
            {
                throw new ModelStageException($"the container of {release} has no health check; its image must declare one (HEALTHCHECK)");
            }

            if (string.Equals(health.Status, "unhealthy", StringComparison.Ordinal))
            {
                throw new ModelStageException($"the container of {release} reported unhealthy: {LastProbe(health)}");
            }

            if (state is { Running: false })
            {
                throw new ModelStageException($"the container of {release} exited with code {state.ExitCode} before it was healthy: {LastProbe(health)}");
            }

            if (_timeProvider.GetElapsedTime(started) >= deadline)
            {
                throw new ModelStageException(
                    $"the container of {release} was not healthy within {_options.HealthTimeoutSeconds} s (Docker:HealthTimeoutSeconds): {LastProbe(health)}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(250, _options.HealthCheckIntervalMs)), _timeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string LastProbe(Health health) =>
        health.Log is { Count: > 0 } probes
            ? $"last health probe exited {probes[^1].ExitCode}: {(probes[^1].Output?.Trim() is { Length: > 0 } output ? output : "(no output)")}"
            : "no health probe has run yet";

    private string WriteToken(string name, string token)
    {
        var path = Path.Combine(_tokenDirectory, name + ".token");
        File.WriteAllText(path, token, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        if (!OperatingSystem.IsWindows())
        {
            // Readable by the container's unprivileged user, which is not the agent's; the name is
            // random and the directory is not listable by others.
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            File.SetUnixFileMode(_tokenDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        }

        return path;
    }

    private static void DeleteToken(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // A token left behind opens nothing: its container is gone.
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Sanitize(string part) => NotNameCharacter().Replace(part, "_");

    [GeneratedRegex("[^a-zA-Z0-9_.-]")]
    private static partial Regex NotNameCharacter();
}
