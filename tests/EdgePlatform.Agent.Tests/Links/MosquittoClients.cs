using System.Diagnostics;
using System.Threading.Channels;

namespace EdgePlatform.Agent.Tests.Links;

/// <summary>
/// Debian's stock MQTT clients, mosquitto_pub and mosquitto_sub, as a sensor on a plant network
/// would run them. tests/run.sh installs mosquitto-clients; a missing client fails the test that
/// needs it, in CI and out, rather than skipping it.
/// </summary>
internal static class MosquittoClients
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private static readonly string[] DebianDirectories = ["/usr/bin", "/usr/local/bin"];

    /// <summary>Runs mosquitto_pub to completion: its exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> PublishAsync(params string[] arguments)
    {
        using var process = Start("mosquitto_pub", arguments);
        using var timeout = new CancellationTokenSource(Patience);
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }

    /// <summary>
    /// Starts a client; <paramref name="lineBuffered"/> runs it through coreutils' stdbuf, so that
    /// each line arrives as it is printed, not when a pipe's buffer fills.
    /// </summary>
    public static Process Start(string tool, IEnumerable<string> arguments, bool lineBuffered = false)
    {
        var binary = Find(tool, "mosquitto-clients");
        if (lineBuffered)
        {
            arguments = ["-oL", binary, .. arguments];
            binary = Find("stdbuf", "coreutils");
        }

        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start)!;
    }

    private static string Find(string tool, string debianPackage) =>
        DebianDirectories
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
            .Select(directory => Path.Combine(directory, tool))
            .FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException(
            $"{tool} is not installed: run tests/run.sh, which installs Debian's {debianPackage} (or apt-get install {debianPackage})");
}

/// <summary>
/// A running mosquitto_sub with debug output: the acknowledgement of its subscription, then each
/// message as one line, read as they come.
/// </summary>
internal sealed class MosquittoSubscriber : IAsyncDisposable
{
    private const string MessagePrefix = "MESSAGE ";
    private const string SubscribedPrefix = "Subscribed (mid: ";

    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();

    private MosquittoSubscriber(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, line) => _lines.Writer.TryWrite(line.Data ?? string.Empty);
        _process.ErrorDataReceived += (_, line) => _lines.Writer.TryWrite(line.Data ?? string.Empty);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static MosquittoSubscriber Start(params string[] arguments) =>
        new(MosquittoClients.Start("mosquitto_sub", [.. arguments, "-d", "-F", MessagePrefix + "%p"], lineBuffered: true));

    /// <summary>What the broker granted, as mosquitto_sub prints it: the QoS, or 128 for a refusal.</summary>
    public async Task<int> GrantedAsync()
    {
        var line = await NextAsync(line => line.StartsWith(SubscribedPrefix, StringComparison.Ordinal));
        return int.Parse(line[(line.LastIndexOf(':') + 1)..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<string> NextMessageAsync() =>
        (await NextAsync(line => line.StartsWith(MessagePrefix, StringComparison.Ordinal)))[MessagePrefix.Length..];

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private async Task<string> NextAsync(Func<string, bool> wanted)
    {
        using var timeout = new CancellationTokenSource(MosquittoClients.Patience);
        while (true)
        {
            var line = await _lines.Reader.ReadAsync(timeout.Token);
            if (wanted(line))
            {
                return line;
            }
        }
    }
}
