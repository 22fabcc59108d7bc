using System.Text.Json.Serialization;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>
/// How the store keeps the parallel lists of perf and quality records in their TEXT columns, and
/// experiment looks (a control-plane type, so not in the wire types' context).
/// </summary>
[JsonSerializable(typeof(long[]))]
[JsonSerializable(typeof(double[]))]
[JsonSerializable(typeof(double?[]))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(EdgePlatform.ControlPlane.Experiments.ExperimentLook))]
internal sealed partial class StorageJsonContext : JsonSerializerContext;
