using System.ComponentModel.DataAnnotations;
using System.Net;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Links;

/// <summary>The device-local event bus: the agent's embedded broker, or an external one.</summary>
public sealed class LocalBrokerOptions : IValidatableObject
{
    public const string Section = "LocalBroker";

    /// <summary>"embedded" (default) runs a broker in the agent; "external" uses one at Host:Port.</summary>
    [RegularExpression("^(embedded|external)$", ErrorMessage = "LocalBroker:Mode must be 'embedded' or 'external'")]
    public string Mode { get; set; } = "embedded";

    /// <summary>
    /// Default 127.0.0.1. The embedded broker binds here; an address beyond loopback needs
    /// <see cref="Users"/> or <see cref="PasswordFile"/>, or the agent refuses to start.
    /// </summary>
    [Required]
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Default 1884; 0 lets the embedded broker pick a free port (written to agent.json).</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 1884;

    [Required]
    public string EventsTopic { get; set; } = Topics.LocalEvents;

    [Required]
    public string PredictionsTopic { get; set; } = Topics.LocalPredictions;

    [Required]
    public string DeadLetterTopic { get; set; } = Topics.LocalDeadLetter;

    /// <summary>Labelled feedback, <c>{"id": "…", "label": true|false|0|1|number}</c>. Default <c>feedback/#</c>.</summary>
    [Required]
    public string FeedbackTopic { get; set; } = Topics.LocalFeedback;

    /// <summary>Where feedback that is malformed or matches no prediction goes, with the reason. Default <c>deadletter/feedback</c>.</summary>
    [Required]
    public string FeedbackDeadLetterTopic { get; set; } = Topics.LocalFeedbackDeadLetter;

    /// <summary>
    /// Sensor clients of the embedded broker, each a name and a <see cref="BrokerPasswordHash"/>.
    /// With any users (here or in <see cref="PasswordFile"/>) every client must log in, on loopback too.
    /// </summary>
    public IList<LocalBrokerUser> Users { get; } = [];

    /// <summary>A mosquitto_passwd file of further sensor clients: <c>name:$7$…</c> per line.</summary>
    public string? PasswordFile { get; set; }

    /// <summary>
    /// Largest PUBLISH payload the embedded broker accepts from a client, in bytes; a larger one is
    /// refused, counted and the client disconnected. Default 1 MiB.
    /// </summary>
    [Range(1024, 268_435_455)]
    public int MaxPacketBytes { get; set; } = 1024 * 1024;

    public bool IsEmbedded => string.Equals(Mode, "embedded", StringComparison.Ordinal);

    /// <summary>Whether clients must log in: some users are configured.</summary>
    public bool HasCredentials => Users.Count > 0 || !string.IsNullOrEmpty(PasswordFile);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IsEmbedded)
        {
            yield break;
        }

        if (!IPAddress.TryParse(Host, out var address))
        {
            yield return new ValidationResult($"LocalBroker:Host '{Host}' is not an IP address for the embedded broker to bind", [nameof(Host)]);
        }
        else if (!IPAddress.IsLoopback(address) && !HasCredentials)
        {
            yield return new ValidationResult(
                $"LocalBroker:Host '{Host}' is beyond loopback, where any machine on the network could publish events and read predictions: "
                + "set LocalBroker:PasswordFile or LocalBroker:Users so that clients must log in, or bind LocalBroker:Host to 127.0.0.1",
                [nameof(Host)]);
        }

        for (var i = 0; i < Users.Count; i++)
        {
            if (LocalBrokerCredentials.Problem(Users[i].Name, Users[i].PasswordHash) is { } problem)
            {
                yield return new ValidationResult($"LocalBroker:Users:{i} {problem}", [nameof(Users)]);
            }
        }

        if (!string.IsNullOrEmpty(PasswordFile) && !File.Exists(PasswordFile))
        {
            yield return new ValidationResult($"LocalBroker:PasswordFile '{PasswordFile}' does not exist", [nameof(PasswordFile)]);
        }
    }
}

/// <summary>A sensor client of the embedded broker (<c>LocalBroker:Users</c>).</summary>
public sealed class LocalBrokerUser
{
    public string Name { get; set; } = string.Empty;

    /// <summary><c>$7$iterations$salt$hash</c> as mosquitto_passwd writes it, or <see cref="BrokerPasswordHash.Create"/>.</summary>
    public string PasswordHash { get; set; } = string.Empty;
}
