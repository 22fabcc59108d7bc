using System.Text.Json;
using System.Text.Json.Serialization;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Core.Reconciliation;

/// <summary>
/// What the agent has applied, kept in <c>state.json</c> so a restart resumes the active model
/// offline and never accepts a desired state older than one it has seen.
/// <see cref="RevertedFrom"/> is a version the device's own health check reverted; the same
/// desired state does not install it again. <see cref="Incoming"/> is the version a desired state
/// names while it is on its way, or after it failed. <see cref="Candidate"/> is an experiment's
/// second arm beside the active model, as its placement named it, so a restart resumes it.
/// </summary>
public sealed record AgentState(
    long DesiredVersion,
    ModelReference? Active,
    ModelReference? Previous,
    string? LastError,
    DateTimeOffset? ActiveSince,
    ModelReference? RevertedFrom = null,
    IncomingModel? Incoming = null,
    CandidateArm? Candidate = null)
{
    public static AgentState Empty { get; } = new(0, null, null, null, null);
}

/// <summary>A version on its way to the primary slot: the step it is at (<see cref="ModelSlotStates"/>) and since when.</summary>
public sealed record IncomingModel(ModelReference Model, string State, DateTimeOffset Since);

/// <summary>
/// An experiment's candidate arm: the placement that named it, the step it is at
/// (<see cref="ModelSlotStates"/>: on its way, active, or failed) and since when, and why it failed.
/// </summary>
public sealed record CandidateArm(ExperimentCandidate Placement, string State, DateTimeOffset Since, string? Error = null);

public sealed class AgentStateStore(string dataDirectory)
{
    public const string FileName = "state.json";

    private string FilePath => Path.Combine(dataDirectory, FileName);

    public AgentState Load()
    {
        if (!File.Exists(FilePath))
        {
            return AgentState.Empty;
        }

        return JsonSerializer.Deserialize(File.ReadAllBytes(FilePath), AgentJsonContext.Default.AgentState)
            ?? throw new InvalidDataException($"{FilePath} is empty");
    }

    /// <summary>Writes to a temporary file, flushes and renames, so a crash leaves the old or the new state, never half.</summary>
    public async Task SaveAsync(AgentState state, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(dataDirectory);
        var temporary = FilePath + ".tmp";
        var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None);
        await using (stream.ConfigureAwait(false))
        {
            await JsonSerializer.SerializeAsync(stream, state, AgentJsonContext.Default.AgentState, cancellationToken).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, FilePath, overwrite: true);
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AgentState))]
internal sealed partial class AgentJsonContext : JsonSerializerContext;
