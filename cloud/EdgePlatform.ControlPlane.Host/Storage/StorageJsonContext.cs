using System.Text.Json.Serialization;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>How the store keeps the parallel lists of perf and quality records in their TEXT columns.</summary>
[JsonSerializable(typeof(long[]))]
[JsonSerializable(typeof(double[]))]
[JsonSerializable(typeof(double?[]))]
[JsonSerializable(typeof(string[]))]
internal sealed partial class StorageJsonContext : JsonSerializerContext;
