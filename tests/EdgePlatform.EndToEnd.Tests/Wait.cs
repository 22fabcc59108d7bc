using EdgePlatform.Cli.Processes;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>The one way tests wait for something: poll a condition until it holds or a deadline passes.</summary>
public static class Wait
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Polls until <paramref name="condition"/> holds, for up to <paramref name="timeout"/> (<see cref="Timeout"/> when not given).</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Timeout;
        var deadline = DateTime.UtcNow + limit;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out after {limit.TotalSeconds:0} s waiting for {what}");
            }

            await Task.Delay(100);
        }
    }

    public static async Task<T> ForFileAsync<T>(string path, HostProcess process, Func<byte[], T?> parse)
        where T : class
    {
        T? value = null;
        await UntilAsync(
            async () =>
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"{process.Name} exited with {process.ExitCode}:\n{process.LogTail(40)}");
                }

                if (!File.Exists(path))
                {
                    return false;
                }

                value = parse(await File.ReadAllBytesAsync(path));
                return value is not null;
            },
            $"{path} from {process.Name}");
        return value!;
    }
}
