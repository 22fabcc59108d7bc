using System.Diagnostics.Metrics;

namespace EdgePlatform.ControlPlane.Host.Hosting;

/// <summary>
/// Requests the server refused for crossing one of its limits (meter <see cref="MeterName"/>, at
/// <c>/metrics</c>): oversized MQTT packets, registry uploads over their size, count or disk
/// budget, request bodies over their size, bursts over a rate limit. Each refusal is one count,
/// tagged with the <c>limit</c> it crossed, so a dashboard shows which limit bites and whether
/// it is set too tight for a real fleet or holding off a misbehaving client.
/// </summary>
public sealed class LimitMetrics : IDisposable
{
    public const string MeterName = "EdgePlatform.Limits";

    /// <summary>An MQTT packet over <c>Broker:MaxPacketBytes</c>.</summary>
    public const string MqttPacketSize = "mqtt_packet_size";

    /// <summary>A registry blob over <c>Registry:MaxBlobBytes</c>.</summary>
    public const string BlobSize = "registry_blob_size";

    /// <summary>An upload session over <c>Registry:MaxOpenUploads</c> or <c>Registry:MaxOpenUploadsPerSubject</c>.</summary>
    public const string UploadSessions = "registry_upload_sessions";

    /// <summary>Upload bytes over <c>Registry:MaxUploadBytesInProgress</c>.</summary>
    public const string UploadDisk = "registry_upload_disk";

    /// <summary>A request body over <c>Server:MaxRequestBodyBytes</c> or an endpoint's own limit.</summary>
    public const string RequestBodySize = "request_body_size";

    /// <summary>A request over a <c>RateLimits</c> policy.</summary>
    public const string RequestRate = "request_rate";

    private readonly Meter _meter;
    private readonly Counter<long> _refusals;

    public LimitMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _meter = meterFactory.Create(MeterName);
        _refusals = _meter.CreateCounter<long>("edgeplatform.limits.refusals", "{refusal}", "Requests, packets and uploads refused for crossing a configured limit, by limit");
    }

    public void Refused(string limit) => _refusals.Add(1, new KeyValuePair<string, object?>("limit", limit));

    public void Dispose() => _meter.Dispose();
}
