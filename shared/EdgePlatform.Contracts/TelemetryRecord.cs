namespace EdgePlatform.Contracts;

/// <summary>
/// One health report of a device for one telemetry interval (kind <see cref="TelemetryKinds.Health"/>).
/// Counters are per interval, not cumulative, so the cloud's sums equal the device's counts exactly
/// as long as every sequence number is ingested once; they are the device's totals over every model
/// version and arm (per version and arm, see <see cref="PerfRecord"/>). <see cref="Errors"/> counts
/// events that failed in ONNX Runtime and events dropped or refused by a full queue;
/// <see cref="EventsDropped"/> is the dropped and refused part of it.
/// <see cref="QueueDepth"/> and <see cref="ReportsShed"/> describe the device's store-and-forward
/// spool when the report was made; <see cref="ReportsShed"/> is cumulative, so the latest report the
/// cloud holds carries everything shed before it, even when the reports that were shed carried
/// earlier totals.
/// </summary>
/// <remarks>
/// <para><c>DiskFreeBytes</c>: Bytes available to the agent on the filesystem of its data directory.</para>
/// <para><c>DiskTotalBytes</c>: Size of that filesystem.</para>
/// <para><c>AgentVersion</c>: The agent's informational version.</para>
/// <para><c>AttestationState</c>: The device's own view of its attestation (<see cref="AttestationStates"/>).</para>
/// <para><c>HeartbeatSeconds</c>: The report interval in force; the device's lease is two of them.</para>
/// <para><c>FeedbackUnmatched</c>: Labelled feedback of the interval that matched no remembered prediction.</para>
/// <para><c>FeedbackMalformed</c>: Feedback messages of the interval that could not be read.</para>
/// </remarks>
public sealed record TelemetryRecord(
    long Sequence,
    DateTimeOffset Timestamp,
    string? ModelName,
    string? ModelVersion,
    string? ManifestDigest,
    long EventsIn,
    long EventsScored,
    long Errors,
    long DeadLettered,
    double LatencyP50Ms,
    double LatencyP99Ms,
    double LatencyMaxMs,
    double CpuPercent,
    long MemoryBytes,
    double LatencyP95Ms = 0,
    long QueueDepth = 0,
    long QueueBytes = 0,
    long ReportsShed = 0,
    long DiskFreeBytes = 0,
    long DiskTotalBytes = 0,
    string? AgentVersion = null,
    string? AttestationState = null,
    int HeartbeatSeconds = 0,
    long EventsDropped = 0,
    long FeedbackUnmatched = 0,
    long FeedbackMalformed = 0);
