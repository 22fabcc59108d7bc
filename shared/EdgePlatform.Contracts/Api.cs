using System.Text.Json;

namespace EdgePlatform.Contracts;

/// <summary>
/// Sent by a device to <c>POST /api/v1/enrollments/devices</c>. <see cref="Csr"/> is a PEM
/// PKCS#10 request for the device's own key (ECDSA P-256). The bootstrap credential is either an
/// enrollment key (a group key or the key derived from it for this device id) or a bootstrap
/// certificate whose common name is the device id, with <see cref="BootstrapSignature"/>: the
/// base64 signature by the bootstrap key over the device id, <see cref="BootstrapSignedAt"/> and
/// the CSR's PEM text, which proves the device holds it now (a proof is accepted once, within
/// minutes of its signing time).
/// </summary>
public sealed record EnrollmentRequest(
    string DeviceId,
    string? EnrollmentKey,
    IReadOnlyDictionary<string, string>? Tags,
    string? Csr = null,
    string? BootstrapCertificate = null,
    string? BootstrapSignature = null,
    DateTimeOffset? BootstrapSignedAt = null);

/// <summary>
/// What a device needs to join the fleet: where the broker is, its certificate (issued by the
/// control plane's device CA; the device id is its subject), the CA certificate that the broker's
/// certificate chains to, where models are pulled from, where signed metadata is fetched from,
/// and the root metadata (a signed JSON document) it pins as the start of its chain of trust.
/// </summary>
public sealed record EnrollmentResponse(
    string DeviceId,
    string MqttHost,
    int MqttPort,
    string Certificate,
    string CaCertificate,
    string RegistryUrl,
    string MetadataUrl,
    string TrustedRoot);

public sealed record DeviceInfo(
    string Id,
    IReadOnlyDictionary<string, string> Tags,
    string Status,
    DateTimeOffset EnrolledAt,
    DateTimeOffset? LastSeen,
    long DesiredVersion,
    string? DesiredManifestDigest,
    ReportedState? Reported,
    AttestationStatus? Attestation = null);

/// <summary>Body of <c>PUT /api/v1/devices/{id}/tags</c>: the device's complete new set of tags.</summary>
public sealed record SetTagsRequest(IReadOnlyDictionary<string, string>? Tags);

/// <summary>A published version; <see cref="Signature"/> is the base64 CMS signature over the manifest bytes.</summary>
public sealed record ModelInfo(
    string Repository,
    string Name,
    string Version,
    string ManifestDigest,
    long ManifestSize,
    string OnnxDigest,
    long OnnxSize,
    string Signature,
    IReadOnlyDictionary<string, double> Metrics,
    DateTimeOffset CreatedAt);

/// <summary>
/// <see cref="Model"/> is <c>name</c> (latest version) or <c>name:version</c>; the targets are
/// either explicit <see cref="Devices"/> or every enrolled device with <see cref="AllDevices"/>;
/// <see cref="Runtime"/> is one of <see cref="ModelRuntimeKinds"/> (default in-process ONNX).
/// </summary>
public sealed record CreateDeploymentRequest(string? Model, IReadOnlyList<string>? Devices, bool? AllDevices, string? Runtime = null);

public sealed record DeploymentInfo(
    string Id,
    string ModelName,
    string ModelVersion,
    string ManifestDigest,
    IReadOnlyList<string> Devices,
    DateTimeOffset CreatedAt,
    IReadOnlyList<string>? Skipped = null);

/// <summary>
/// Starts a training run on a registered dataset: <c>POST /api/v1/training-runs</c>. <see cref="Trees"/> and <see cref="Leaves"/> size a tree
/// ensemble (fasttree, lightgbm; default 100 trees of 20 leaves). The export's scores and
/// probabilities must match ML.NET's within <see cref="ParityTolerance"/> + <see cref="ParityRelativeTolerance"/>
/// × magnitude (defaults 1e-5 and 1e-5), which a large ensemble's float32 sums of thousands of
/// trees may need raised. <see cref="Transforms"/> names transforms per feature column (see
/// docs/training.md); a transform that cannot be exported into the ONNX graph, or does not apply to
/// the column, is refused here, before the run is queued.
/// </summary>
public sealed record TrainingRequest(
    string? Dataset,
    string? ModelName,
    string? Trainer,
    int? Seed,
    int? Trees = null,
    int? Leaves = null,
    double? ParityTolerance = null,
    double? ParityRelativeTolerance = null,
    IReadOnlyDictionary<string, IReadOnlyList<string>>? Transforms = null);

public sealed record TrainingRunInfo(
    string Id,
    string Status,
    string Dataset,
    string ModelName,
    string Trainer,
    string? ModelVersion,
    string? ManifestDigest,
    IReadOnlyDictionary<string, double>? Metrics,
    string? Error,
    DateTimeOffset CreatedAt,
    DateTimeOffset? FinishedAt);

public static class TrainingRunStatuses
{
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
}

/// <summary>
/// A dataset as training reads it. <see cref="Format"/> and <see cref="Kinds"/> (feature column →
/// kind: numeric, boolean, categorical) are set for a registered version, whose snapshot may be in
/// any readable format; null for a numeric CSV registered whole.
/// </summary>
public sealed record DatasetInfo(
    string Name,
    string Digest,
    int Rows,
    IReadOnlyList<string> Columns,
    string Label,
    DateTimeOffset CreatedAt,
    string? Format = null,
    IReadOnlyDictionary<string, string>? Kinds = null);

/// <summary>Latest telemetry the control plane holds for one device.</summary>
public sealed record DeviceTelemetrySummary(
    string DeviceId,
    long Reports,
    long LastSequence,
    DateTimeOffset LastReceived,
    TelemetryRecord Latest);

/// <summary>One stored report, as <c>GET /api/v1/telemetry?resolution=raw</c> returns it.</summary>
public sealed record TelemetryPoint(string DeviceId, string Kind, DateTimeOffset ReceivedAt, TelemetryRecord Record);

/// <summary>
/// One device's reports for one model version within one minute (by report timestamp): counters
/// summed, latency percentiles as the worst report's, CPU averaged, depth and shed as maxima.
/// </summary>
public sealed record TelemetryMinute(
    string DeviceId,
    DateTimeOffset Minute,
    string? ModelName,
    string? ModelVersion,
    long Reports,
    long EventsIn,
    long EventsScored,
    long Errors,
    long DeadLettered,
    double LatencyP50MsMax,
    double LatencyP99MsMax,
    double LatencyMaxMs,
    double CpuPercentAvg,
    long MemoryBytesMax,
    long QueueDepthMax,
    long ReportsShedMax,
    long LastSequence);

/// <summary>
/// The answer of <c>GET /api/v1/telemetry</c>: rollups by default, raw records on request. Health
/// fills <see cref="Minutes"/> or <see cref="Raw"/>; perf fills <see cref="PerfMinutes"/> or
/// <see cref="Perf"/>; quality fills <see cref="Quality"/>.
/// </summary>
public sealed record TelemetryQueryResult(string Resolution, IReadOnlyList<TelemetryMinute> Minutes, IReadOnlyList<TelemetryPoint> Raw)
{
    public string Kind { get; init; } = TelemetryKinds.Health;

    public IReadOnlyList<PerfMinute> PerfMinutes { get; init; } = [];

    public IReadOnlyList<PerfPoint> Perf { get; init; } = [];

    public IReadOnlyList<QualityPoint> Quality { get; init; } = [];

    public IReadOnlyList<QualityMinute> QualityMinutes { get; init; } = [];
}

/// <summary>One stored perf record (one model version and arm of one device for one interval).</summary>
public sealed record PerfPoint(string DeviceId, PerfRecord Record);

/// <summary>One stored quality record (one model version and arm of one device for one interval).</summary>
public sealed record QualityPoint(string DeviceId, QualityRecord Record);

/// <summary>
/// Quality of one model version on one arm within one minute, over every device the query
/// selected: scores, score histogram, labelled outcomes and errors summed; each feature's count,
/// mean and population variance combined exactly from the records' moments, minimum and maximum
/// kept, decile counts summed, and PSI as the largest of the records' PSI. Log-loss sums, the
/// labelled histograms and the shadow pairing counts and sums add, as
/// <see cref="QualityRecord"/>'s remarks define them.
/// </summary>
public sealed record QualityMinute(
    DateTimeOffset Minute,
    string ModelName,
    string ModelVersion,
    string Arm,
    int Devices,
    long Records,
    long Scores,
    double ScoreMean,
    IReadOnlyList<double> ScoreBinEdges,
    IReadOnlyList<long> ScoreHistogram,
    IReadOnlyList<QualityFeatureMinute> Features,
    double? DriftPsiMax,
    long Labelled,
    long TruePositives,
    long FalsePositives,
    long TrueNegatives,
    long FalseNegatives,
    double ErrorSum,
    double AbsoluteErrorSum,
    double SquaredErrorSum,
    double LogLossSum = 0,
    double LogLossSquaredSum = 0,
    IReadOnlyList<long>? LabelledPositiveHistogram = null,
    IReadOnlyList<long>? LabelledNegativeHistogram = null,
    long Compared = 0,
    long Agreements = 0,
    long Paired = 0,
    double PairedDifferenceSum = 0,
    double PairedDifferenceSquaredSum = 0)
{
    public IReadOnlyList<long> LabelledPositiveHistogram { get; init; } = LabelledPositiveHistogram ?? [];

    public IReadOnlyList<long> LabelledNegativeHistogram { get; init; } = LabelledNegativeHistogram ?? [];
}

/// <summary>One feature within a <see cref="QualityMinute"/>; <see cref="DecileCounts"/> are the observed values in the baseline's bins.</summary>
public sealed record QualityFeatureMinute(string Name, long Count, double Mean, double Variance, double Min, double Max, double? PsiMax, IReadOnlyList<long> DecileCounts);

/// <summary>
/// One minute of one model version on one arm, over every device the query selected: counters
/// summed, and latency percentiles read from the merged HdrHistograms of every record in it, so
/// they are the percentiles of all the latencies of that minute, not a maximum of percentiles.
/// </summary>
public sealed record PerfMinute(
    DateTimeOffset Minute,
    string ModelName,
    string ModelVersion,
    string Arm,
    int Devices,
    long Records,
    long EventsIn,
    long EventsScored,
    long Errors,
    long DeadLettered,
    long Dropped,
    long Batches,
    long LatencyCount,
    double LatencyP50Ms,
    double LatencyP95Ms,
    double LatencyP99Ms,
    double LatencyMaxMs);

/// <summary>Telemetry the control plane refused, per device and reason (reasons in <c>TelemetryRejections</c>).</summary>
public sealed record TelemetryRejectionCount(string DeviceId, string Reason, long Count, DateTimeOffset LastAt, string LastDetail);

/// <summary>Ingest counters since the server started, and refusals since the database was created.</summary>
public sealed record TelemetryIngestStats(long Accepted, long Replayed, long Rejected, IReadOnlyList<TelemetryRejectionCount> Rejections);

/// <summary>Why a telemetry message or report was refused.</summary>
public static class TelemetryRejections
{
    public const string UnknownKind = "unknown-kind";
    public const string UnknownDevice = "unknown-device";
    public const string Malformed = "malformed";
    public const string ForeignDevice = "foreign-device";
    public const string ReplayedSequence = "replayed-sequence";
}

/// <summary>RFC 7807 problem details as the API returns them.</summary>
public sealed record ApiProblem(string? Type, string? Title, int? Status, string? Detail, IReadOnlyDictionary<string, string[]>? Errors)
{
    /// <summary>The server's words from a refusal's <paramref name="body"/>: the problem's detail or title, or the body as it came.</summary>
    public static string Describe(string body)
    {
        try
        {
            var problem = JsonSerializer.Deserialize(body, ContractsJsonContext.Default.ApiProblem);
            return problem?.Detail ?? problem?.Title ?? body;
        }
        catch (JsonException)
        {
            return body;
        }
    }
}

/// <summary>
/// Written by a running server to <c>server.json</c> in its data directory once it accepts
/// connections, so local tools and agents can find it. Over HTTPS it names the CA file and the
/// fingerprint that clients pin.
/// </summary>
public sealed record ServerEndpoints(
    string HttpUrl, string MqttHost, int MqttPort, string EnrollmentKeyFile, int ProcessId,
    string? CaCertificateFile = null, string? CertificateFingerprint = null)
{
    public const string FileName = "server.json";
}

/// <summary>Written by a running agent to <c>agent.json</c> in its data directory, so local tools find its local broker.</summary>
public sealed record AgentEndpoints(string DeviceId, string LocalBrokerHost, int LocalBrokerPort, int ProcessId)
{
    public const string FileName = "agent.json";
}

/// <summary>An operator API token as listed (the secret is shown only once, at creation).</summary>
public sealed record ApiTokenInfo(string Id, string Name, string Role, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

public sealed record CreateTokenRequest(string? Name, string? Role);

/// <summary>The new token's secret, returned once; only its hash is stored.</summary>
public sealed record CreatedToken(string Token, ApiTokenInfo Info);

/// <summary>Who the presented token belongs to.</summary>
public sealed record WhoAmI(string Name, string Role, string TokenId);

/// <summary>One line of the append-only audit log.</summary>
public sealed record AuditEntry(long Sequence, DateTimeOffset At, string Actor, string Action, int Status);

/// <summary>An enrollment group: devices enroll with keys derived from its key (the key is shown once).</summary>
public sealed record EnrollmentGroupInfo(string Id, string Name, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, string? Key);

public sealed record CreateEnrollmentGroupRequest(string? Name);
