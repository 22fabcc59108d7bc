using System.ComponentModel.DataAnnotations;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Links;

/// <summary>The device-local event bus: the agent's embedded broker, or an external one.</summary>
public sealed class LocalBrokerOptions
{
    public const string Section = "LocalBroker";

    /// <summary>"embedded" (default) runs a broker in the agent; "external" uses one at Host:Port.</summary>
    [RegularExpression("^(embedded|external)$", ErrorMessage = "LocalBroker:Mode must be 'embedded' or 'external'")]
    public string Mode { get; set; } = "embedded";

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

    public bool IsEmbedded => string.Equals(Mode, "embedded", StringComparison.Ordinal);
}
