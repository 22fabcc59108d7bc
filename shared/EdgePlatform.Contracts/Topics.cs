namespace EdgePlatform.Contracts;

/// <summary>
/// MQTT topic scheme. Every device-scoped topic carries the device id so a broker ACL of
/// <c>devices/{clientId}/#</c> can enforce isolation with any standard MQTT 5 broker.
/// </summary>
public static class Topics
{
    public const string DeviceRoot = "devices";

    public const string AllReported = "devices/+/twin/reported";
    public const string AllTelemetry = "devices/+/telemetry/+";
    public const string AllStatus = "devices/+/status";

    /// <summary>Default subscription for events on a device's local broker.</summary>
    public const string LocalEvents = "events/#";

    /// <summary>Default topic on which a device publishes its predictions locally.</summary>
    public const string LocalPredictions = "predictions";

    /// <summary>Where events that cannot be scored go, with the reason.</summary>
    public const string LocalDeadLetter = "deadletter/events";

    /// <summary>Default subscription for labelled feedback on a device's local broker (<see cref="LabelFeedback"/>).</summary>
    public const string LocalFeedback = "feedback/#";

    /// <summary>Where feedback that is malformed or matches no prediction goes, with the reason.</summary>
    public const string LocalFeedbackDeadLetter = "deadletter/feedback";

    public static string Desired(string deviceId) => $"devices/{deviceId}/twin/desired";

    public static string Reported(string deviceId) => $"devices/{deviceId}/twin/reported";

    public static string Telemetry(string deviceId, string kind) => $"devices/{deviceId}/telemetry/{kind}";

    public static string Status(string deviceId) => $"devices/{deviceId}/status";

    public static string DeviceFilter(string deviceId) => $"devices/{deviceId}/#";

    /// <summary>
    /// Splits <c>devices/{id}/rest</c> into the device id and the rest. Returns false for any
    /// topic outside the device tree or with an empty id.
    /// </summary>
    public static bool TryParseDeviceTopic(string topic, out string deviceId, out string rest)
    {
        deviceId = string.Empty;
        rest = string.Empty;
        if (!topic.StartsWith(DeviceRoot + "/", StringComparison.Ordinal))
        {
            return false;
        }

        var remainder = topic.AsSpan(DeviceRoot.Length + 1);
        var slash = remainder.IndexOf('/');
        if (slash <= 0)
        {
            return false;
        }

        deviceId = remainder[..slash].ToString();
        rest = remainder[(slash + 1)..].ToString();
        return true;
    }
}

/// <summary>Telemetry kinds carried under <c>devices/{id}/telemetry/{kind}</c>.</summary>
public static class TelemetryKinds
{
    public const string Health = "health";
    public const string Perf = "perf";
    public const string Quality = "quality";

    public static bool IsKnown(string kind) => kind is Health or Perf or Quality;
}
