using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using EdgePlatform.Agent.Core.Ports;
using Microsoft.Extensions.Logging;

namespace EdgePlatform.Agent.Docker;

/// <summary>A started model container; disposing it stops following its output, stops and removes it.</summary>
internal sealed class ModelContainer(DockerModelContainers owner, string name, string id, Uri baseAddress, string bearerToken, string tokenFile, TimeSpan scoringTimeout) : IModelContainer
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _output = Task.CompletedTask;
    private int _disposed;

    public string Name { get; } = name;

    public string Id { get; } = id;

    public Uri BaseAddress { get; } = baseAddress;

    public string BearerToken { get; } = bearerToken;

    public TimeSpan ScoringTimeout { get; } = scoringTimeout;

    /// <summary>Copies the container's stdout and stderr into the agent's log, line by line, until it stops or is disposed.</summary>
    public void FollowOutput(IDockerClient docker, ILogger logger) => _output = FollowAsync(docker, logger, _stopping.Token);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await owner.RemoveAsync(Name, Id, tokenFile, CancellationToken.None).ConfigureAwait(false);
        await _output.ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task FollowAsync(IDockerClient docker, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            using var stream = await docker.Containers.GetContainerLogsAsync(
                Id, tty: false, new ContainerLogsParameters { Follow = true, ShowStdout = true, ShowStderr = true }, cancellationToken).ConfigureAwait(false);
            var buffer = new byte[8192];
            var line = new StringBuilder();
            var decoder = Encoding.UTF8.GetDecoder();
            var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
            while (true)
            {
                var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken).ConfigureAwait(false);
                if (read.EOF)
                {
                    break;
                }

                var count = decoder.GetChars(buffer, 0, read.Count, chars, 0);
                for (var i = 0; i < count; i++)
                {
                    if (chars[i] == '\n')
                    {
                        var text = line.ToString().TrimEnd('\r');
                        Log.ContainerOutput(logger, Name, text);
                        line.Clear();
                    }
                    else
                    {
                        line.Append(chars[i]);
                    }
                }
            }

            if (line.Length > 0)
            {
                var text = line.ToString();
                Log.ContainerOutput(logger, Name, text);
            }

            Log.ContainerOutputEnded(logger, Name, "the container stopped");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Log.ContainerOutputEnded(logger, Name, "the container is being removed");
        }
        catch (Exception ex) when (ex is DockerApiException or IOException or HttpRequestException)
        {
            Log.ContainerOutputEnded(logger, Name, ex.Message);
        }
    }
}
