using Apache.Arrow;

namespace EdgePlatform.Contracts;

/// <summary>
/// Arrow IPC stream encoding of <see cref="TelemetryRecord"/> batches, the health kind
/// (<see cref="MediaTypes.ArrowStream"/>). The schema carries the sending device's id in its
/// metadata so the cloud can refuse a batch published under another device's topic.
/// </summary>
public static class TelemetryArrow
{
    public const string SchemaId = "edgeplatform.telemetry.v1";
    public const string SchemaIdKey = "schema";
    public const string DeviceIdKey = "device_id";

    /// <summary>The stream's schema: <see cref="TelemetrySchemas.Health"/>'s fields in order.</summary>
    public static Schema CreateSchema(string deviceId) => TelemetryColumns.CreateSchema(TelemetrySchemas.Health, deviceId);

    public static byte[] Serialize(string deviceId, IReadOnlyList<TelemetryRecord> records) =>
        TelemetryColumns.Serialize(TelemetrySchemas.Health, deviceId, records);

    /// <summary>
    /// Decodes a telemetry stream. Throws <see cref="TelemetryFormatException"/> naming what is
    /// wrong when the payload is not an Arrow stream of this schema. Optional fields an older
    /// agent's batch lacks read as zero (or null); present with another type, they are refused.
    /// </summary>
    public static TelemetryBatch Deserialize(ReadOnlyMemory<byte> payload)
    {
        var (deviceId, records) = TelemetryColumns.Deserialize(TelemetrySchemas.Health, payload);
        return new TelemetryBatch(deviceId, records);
    }
}

public sealed record TelemetryBatch(string DeviceId, IReadOnlyList<TelemetryRecord> Records);

/// <summary>A telemetry payload that does not follow the Arrow schema of its kind.</summary>
public sealed class TelemetryFormatException : Exception
{
    public TelemetryFormatException()
    {
    }

    public TelemetryFormatException(string message)
        : base(message)
    {
    }

    public TelemetryFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
