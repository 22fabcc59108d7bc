using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Devices;

/// <summary>
/// A release's <c>agent-builds.json</c>, as deployment/scripts/build-release.sh writes it: the
/// build measurement of the agent for each architecture it was published for. Dropped into
/// <see cref="AttestationOptions.AllowedAgentBuildsDirectory"/>, it allows those builds on
/// <see cref="Channels"/> (every channel when it names none), so one file allows a release on
/// x86-64 and ARM64 devices alike.
/// </summary>
public sealed record AgentReleaseBuilds(string? Version, IReadOnlyList<AgentReleaseBuild>? Builds, IReadOnlyList<string>? Channels)
{
    /// <summary>
    /// Every release file (<c>*.json</c>) in <paramref name="directory"/>, in name order. A file that
    /// is not one names itself and what is wrong, so a typo stops the server at start rather than
    /// refusing devices later.
    /// </summary>
    public static IReadOnlyList<AgentReleaseBuilds> ReadDirectory(string directory)
    {
        if (!Directory.Exists(directory))
        {
            throw new InvalidDataException($"Attestation:AllowedAgentBuildsDirectory '{directory}' does not exist");
        }

        return Directory.EnumerateFiles(directory, "*.json").Order(StringComparer.Ordinal).Select(Read).ToList();
    }

    private static AgentReleaseBuilds Read(string path)
    {
        AgentReleaseBuilds? release;
        try
        {
            release = JsonSerializer.Deserialize(File.ReadAllBytes(path), AgentReleaseBuildsJsonContext.Default.AgentReleaseBuilds);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path} is not a release's agent-builds.json: {ex.Message}", ex);
        }

        if (release?.Builds is not { Count: > 0 } builds)
        {
            throw new InvalidDataException($"{path} lists no builds: it needs \"builds\": [{{ \"runtime\": \"linux-x64\", \"agentBuild\": \"sha256:…\" }}, …]");
        }

        if (builds.FirstOrDefault(b => b.AgentBuild is null || !IsMeasurement(b.AgentBuild)) is { } bad)
        {
            throw new InvalidDataException(
                $"{path}: build '{bad.Runtime}' has agentBuild '{bad.AgentBuild}', which is not a measurement (sha256: and 64 hex digits, as edgectl attestation measure prints it)");
        }

        return release;
    }

    private static bool IsMeasurement(string value) =>
        value.Length == 71 && value.StartsWith("sha256:", StringComparison.Ordinal) && value[7..].All(char.IsAsciiHexDigitLower);
}

/// <summary>One architecture's build of a release.</summary>
public sealed record AgentReleaseBuild(string? Runtime, string? AgentBuild);

/// <summary>Reads the release files at start, so a bad one stops the server naming the file and what is wrong with it.</summary>
internal sealed class AllowedAgentBuildsValidation : IValidateOptions<AttestationOptions>
{
    public ValidateOptionsResult Validate(string? name, AttestationOptions options)
    {
        if (options.AllowedAgentBuildsDirectory is not { Length: > 0 } directory)
        {
            return ValidateOptionsResult.Skip;
        }

        try
        {
            AgentReleaseBuilds.ReadDirectory(directory);
            return ValidateOptionsResult.Success;
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return ValidateOptionsResult.Fail(ex.Message);
        }
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(AgentReleaseBuilds))]
internal sealed partial class AgentReleaseBuildsJsonContext : JsonSerializerContext;
