using Apache.Arrow;

namespace EdgePlatform.Contracts;

/// <summary>
/// Arrow IPC stream encoding of <see cref="PerfRecord"/> batches, published on
/// <c>devices/{id}/telemetry/perf</c>. Like <see cref="TelemetryArrow"/>, the schema names its
/// id and the sending device in its metadata.
/// </summary>
public static class PerfArrow
{
    public const string SchemaId = "edgeplatform.telemetry.perf.v1";

    /// <summary>The first four bytes of HdrHistogram's compressed V2 encoding, big-endian.</summary>
    private static readonly byte[] HistogramCookie = [0x1c, 0x84, 0x93, 0x14];

    public static Schema CreateSchema(string deviceId) => TelemetryColumns.CreateSchema(TelemetrySchemas.Perf, deviceId);

    public static byte[] Serialize(string deviceId, IReadOnlyList<PerfRecord> records) =>
        TelemetryColumns.Serialize(TelemetrySchemas.Perf, deviceId, records);

    /// <summary>
    /// Decodes a perf stream. Throws <see cref="TelemetryFormatException"/> naming the column and
    /// the problem when the payload is not an Arrow stream of this schema.
    /// </summary>
    public static PerfBatch Deserialize(ReadOnlyMemory<byte> payload)
    {
        var (deviceId, records) = TelemetryColumns.Deserialize(TelemetrySchemas.Perf, payload, (record, row) => CheckHistogram(record.LatencyHistogram.Span, row));
        return new PerfBatch(deviceId, records);
    }

    private static void CheckHistogram(ReadOnlySpan<byte> bytes, int row)
    {
        if (bytes.Length > 0 && (bytes.Length < HistogramCookie.Length || !bytes[..HistogramCookie.Length].SequenceEqual(HistogramCookie)))
        {
            throw new TelemetryFormatException($"column 'latency_histogram' is not an HdrHistogram in the compressed V2 encoding (row {row})");
        }
    }
}

public sealed record PerfBatch(string DeviceId, IReadOnlyList<PerfRecord> Records);
