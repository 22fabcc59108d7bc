using Apache.Arrow;

namespace EdgePlatform.Contracts;

/// <summary>
/// Arrow IPC stream encoding of <see cref="QualityRecord"/> batches, published on
/// <c>devices/{id}/telemetry/quality</c>. The per-feature columns are lists running parallel to
/// <c>feature_names</c>; a batch whose lists of one row differ in length is refused.
/// </summary>
public static class QualityArrow
{
    public const string SchemaId = "edgeplatform.telemetry.quality.v1";

    public static Schema CreateSchema(string deviceId) => TelemetryColumns.CreateSchema(TelemetrySchemas.Quality, deviceId);

    /// <exception cref="ArgumentException">A record's lists do not run parallel (<see cref="QualityRecord.ValidateShape"/>).</exception>
    public static byte[] Serialize(string deviceId, IReadOnlyList<QualityRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        foreach (var record in records)
        {
            record.ValidateShape();
        }

        return TelemetryColumns.Serialize(TelemetrySchemas.Quality, deviceId, records);
    }

    /// <summary>
    /// Decodes a quality stream. Throws <see cref="TelemetryFormatException"/> naming the column and
    /// the problem when the payload is not an Arrow stream of this schema or its lists do not run parallel.
    /// </summary>
    public static QualityBatch Deserialize(ReadOnlyMemory<byte> payload)
    {
        var (deviceId, records) = TelemetryColumns.Deserialize(TelemetrySchemas.Quality, payload, CheckShape);
        return new QualityBatch(deviceId, records);
    }

    private static void CheckShape(QualityRecord record, int row)
    {
        try
        {
            record.ValidateShape();
        }
        catch (ArgumentException ex)
        {
            throw new TelemetryFormatException($"row {row}: {ex.Message.Split(" (Parameter", 2)[0]}", ex);
        }
    }
}

public sealed record QualityBatch(string DeviceId, IReadOnlyList<QualityRecord> Records);
