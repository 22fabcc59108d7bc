using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgePlatform.Contracts;

/// <summary>Source-generated serialization for every wire record; camelCase, nulls omitted.</summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = false)]
[JsonSerializable(typeof(OciManifest))]
[JsonSerializable(typeof(ModelCard))]
[JsonSerializable(typeof(DesiredState))]
[JsonSerializable(typeof(ReportedState))]
[JsonSerializable(typeof(EnrollmentRequest))]
[JsonSerializable(typeof(EnrollmentResponse))]
[JsonSerializable(typeof(DeviceInfo))]
[JsonSerializable(typeof(IReadOnlyList<DeviceInfo>))]
[JsonSerializable(typeof(ModelInfo))]
[JsonSerializable(typeof(IReadOnlyList<ModelInfo>))]
[JsonSerializable(typeof(CreateDeploymentRequest))]
[JsonSerializable(typeof(DeploymentInfo))]
[JsonSerializable(typeof(IReadOnlyList<DeploymentInfo>))]
[JsonSerializable(typeof(TrainingRequest))]
[JsonSerializable(typeof(TrainingRunInfo))]
[JsonSerializable(typeof(IReadOnlyList<TrainingRunInfo>))]
[JsonSerializable(typeof(DatasetInfo))]
[JsonSerializable(typeof(IReadOnlyList<DatasetInfo>))]
[JsonSerializable(typeof(DeviceTelemetrySummary))]
[JsonSerializable(typeof(IReadOnlyList<DeviceTelemetrySummary>))]
[JsonSerializable(typeof(TelemetryRecord))]
[JsonSerializable(typeof(TelemetryQueryResult))]
[JsonSerializable(typeof(TelemetryIngestStats))]
[JsonSerializable(typeof(ApiProblem))]
[JsonSerializable(typeof(ServerEndpoints))]
[JsonSerializable(typeof(AgentEndpoints))]
[JsonSerializable(typeof(ApiTokenInfo))]
[JsonSerializable(typeof(IReadOnlyList<ApiTokenInfo>))]
[JsonSerializable(typeof(CreateTokenRequest))]
[JsonSerializable(typeof(CreatedToken))]
[JsonSerializable(typeof(WhoAmI))]
[JsonSerializable(typeof(EnrollmentGroupInfo))]
[JsonSerializable(typeof(IReadOnlyList<EnrollmentGroupInfo>))]
[JsonSerializable(typeof(CreateEnrollmentGroupRequest))]
[JsonSerializable(typeof(IReadOnlyList<AuditEntry>))]
[JsonSerializable(typeof(Prediction))]
[JsonSerializable(typeof(DeadLetter))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(Dictionary<string, double>))]
[JsonSerializable(typeof(List<string>))]
public sealed partial class ContractsJsonContext : JsonSerializerContext;
