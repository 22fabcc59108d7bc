using MQTTnet;

namespace EdgePlatform.Agent.Links;

/// <summary>Who a client of the embedded broker is, once it has logged in.</summary>
public enum LocalBrokerRole
{
    /// <summary>
    /// The agent itself: publishes predictions and dead letters. Every client has this role on a
    /// loopback broker with no users configured, as the broker had before it took logins.
    /// </summary>
    Agent,

    /// <summary>A configured user: sends events and feedback, reads what the agent answers.</summary>
    Sensor,
}

/// <summary>
/// The embedded broker's rules, all of them here: a sensor publishes on the events and feedback
/// topics and subscribes to predictions and dead letters; only the agent publishes predictions
/// and dead letters. The topics are those <see cref="LocalBrokerOptions"/> configures.
/// </summary>
public sealed class LocalBrokerPermissions(LocalBrokerOptions options)
{
    private readonly string[] _sensorPublishes = [options.EventsTopic, options.FeedbackTopic];
    private readonly string[] _sensorSubscribes = [options.PredictionsTopic, options.DeadLetterTopic, options.FeedbackDeadLetterTopic];

    public bool MayPublish(LocalBrokerRole role, string topic) =>
        role == LocalBrokerRole.Agent || _sensorPublishes.Any(allowed => Matches(topic, allowed));

    /// <summary>A sensor's filter must be one of its topics, or a plain topic within one: never a wider wildcard.</summary>
    public bool MaySubscribe(LocalBrokerRole role, string topicFilter) =>
        role == LocalBrokerRole.Agent || _sensorSubscribes.Any(allowed =>
            string.Equals(topicFilter, allowed, StringComparison.Ordinal)
            || (!HasWildcard(topicFilter) && Matches(topicFilter, allowed)));

    private static bool Matches(string topic, string filter) =>
        MqttTopicFilterComparer.Compare(topic, filter) == MqttTopicFilterCompareResult.IsMatch;

    private static bool HasWildcard(string topicFilter) => topicFilter.AsSpan().IndexOfAny('#', '+') >= 0;
}
