using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;

namespace EdgePlatform.Contracts.Tests;

public class TelemetryArrowTests
{
    private static readonly DateTimeOffset Start = new(2025, 3, 1, 12, 0, 0, 123, TimeSpan.Zero);

    [Fact]
    public void Deserialize_SerializedBatch_RoundTripsEveryRecord()
    {
        TelemetryRecord[] records =
        [
            Sample(1) with { ModelName = "sensor-anomaly", ModelVersion = "3", ManifestDigest = "sha256:" + new string('a', 64) },
            Sample(2) with { ModelName = null, ModelVersion = null, ManifestDigest = null },
            Sample(3) with { ModelName = "sensor-anomaly", ModelVersion = null, ManifestDigest = null, CpuPercent = 99.5, MemoryBytes = long.MaxValue },
        ];

        var batch = TelemetryArrow.Deserialize(TelemetryArrow.Serialize("dev-1", records));

        Assert.Equal("dev-1", batch.DeviceId);
        Assert.Equal(records, batch.Records);
    }

    [Fact]
    public void Deserialize_NullStrings_StayNullNotEmpty()
    {
        var record = Sample(7) with { ModelName = null, ModelVersion = "", ManifestDigest = null };

        var decoded = Assert.Single(TelemetryArrow.Deserialize(TelemetryArrow.Serialize("dev-1", [record])).Records);

        Assert.Null(decoded.ModelName);
        Assert.Equal(string.Empty, decoded.ModelVersion);
        Assert.Null(decoded.ManifestDigest);
    }

    [Fact]
    public void Deserialize_TimestampWithOffset_KeepsTheInstantToTheMillisecond()
    {
        var local = new DateTimeOffset(2025, 3, 1, 14, 0, 0, 456, TimeSpan.FromHours(2));

        var decoded = Assert.Single(TelemetryArrow.Deserialize(TelemetryArrow.Serialize("dev-1", [Sample(1) with { Timestamp = local }])).Records);

        Assert.Equal(local.UtcDateTime, decoded.Timestamp.UtcDateTime);
    }

    [Theory]
    [InlineData("")]
    [InlineData("68656c6c6f20776f726c64")]
    [InlineData("ffffffff00000000")]
    [InlineData("ffffffff10000000deadbeefdeadbeefdeadbeefdeadbeef")]
    public void Deserialize_GarbageBytes_ThrowsTelemetryFormatException(string hex)
    {
        var payload = Convert.FromHexString(hex);

        var exception = Xunit.Record.Exception(() => TelemetryArrow.Deserialize(payload));

        Assert.IsType<TelemetryFormatException>(exception);
        Assert.False(string.IsNullOrWhiteSpace(exception.Message));
    }

    [Fact]
    public void Deserialize_RandomBytes_ThrowsTelemetryFormatException() =>
        ArrowTestData.AssertRandomBytesRefused(1234, p => TelemetryArrow.Deserialize(p));

    [Fact]
    public void Deserialize_StringOffsetsBeyondTheDataBuffer_ThrowsTelemetryFormatException()
    {
        // One byte of string data, but the offsets claim 1000 bytes: read as-is, 999 bytes of
        // whatever follows the buffer would come back as the model name.
        var payload = WithModelNameOffsets(0, 1000);

        var exception = Assert.Throws<TelemetryFormatException>(() => TelemetryArrow.Deserialize(payload));

        Assert.Contains("model_name", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deserialize_StringOffsetsFarBeyondTheDataBuffer_ThrowsTelemetryFormatException()
    {
        var payload = WithModelNameOffsets(0, 2_000_000_000);

        Assert.Throws<TelemetryFormatException>(() => TelemetryArrow.Deserialize(payload));
    }

    [Fact]
    public void Deserialize_IntegerColumnWithUnsupportedBitWidth_ThrowsTelemetryFormatException()
    {
        var payload = TelemetryArrow.Serialize("dev-1", [Sample(1)]);
        // In the schema message the Int type table of a column (bitWidth 64 = 0x40) is followed by the column's name.
        byte[] marker = [0x40, 0, 0, 0, 12, 0, 0, 0, .. "memory_bytes"u8];
        var at = payload.AsSpan().IndexOf(marker);
        Assert.True(at >= 0, "the Arrow encoding changed; find the bit width of memory_bytes another way");
        payload[at] = 65;

        var exception = Xunit.Record.Exception(() => TelemetryArrow.Deserialize(payload));

        Assert.IsType<TelemetryFormatException>(exception);
    }

    [Fact]
    public void Deserialize_EverySingleByteCorruption_DecodesOrThrowsTelemetryFormatException() =>
        ArrowTestData.AssertEverySingleByteCorruptionDecodesOrIsRefused(
            TelemetryArrow.Serialize("dev-1", [Sample(1), Sample(2) with { ModelName = null }, Sample(3)]), p => TelemetryArrow.Deserialize(p));

    [Fact]
    public void Deserialize_TruncatedStream_ThrowsTelemetryFormatException()
    {
        var payload = TelemetryArrow.Serialize("dev-1", [Sample(1), Sample(2)]);

        var exception = Xunit.Record.Exception(() => TelemetryArrow.Deserialize(payload.AsMemory(0, payload.Length / 2)));

        Assert.IsType<TelemetryFormatException>(exception);
    }

    [Fact]
    public void Deserialize_StreamOfAnotherSchemaId_ThrowsNamingTheSchema()
    {
        var schema = WithMetadata(TelemetryArrow.CreateSchema("dev-1"), TelemetryArrow.SchemaIdKey, "someone.else.v9");
        var payload = Write(schema, StandardColumns(schema, rows: 1));

        var exception = Assert.Throws<TelemetryFormatException>(() => TelemetryArrow.Deserialize(payload));

        Assert.Equal("schema metadata 'schema' is not 'edgeplatform.telemetry.v1'", exception.Message);
    }

    [Fact]
    public void Deserialize_StreamWithoutDeviceId_ThrowsNamingTheMetadata()
    {
        var schema = new Schema.Builder()
            .Field(f => f.Name("sequence").DataType(Int64Type.Default).Nullable(false))
            .Metadata(TelemetryArrow.SchemaIdKey, TelemetryArrow.SchemaId)
            .Build();
        var payload = Write(schema, [new Int64Array.Builder().Append(1).Build()]);

        var exception = Assert.Throws<TelemetryFormatException>(() => TelemetryArrow.Deserialize(payload));

        Assert.Equal("schema metadata 'device_id' is missing", exception.Message);
    }

    [Fact]
    public void Deserialize_StreamMissingAColumn_ThrowsNamingTheColumn()
    {
        var full = TelemetryArrow.CreateSchema("dev-1");
        var builder = new Schema.Builder();
        foreach (var field in full.FieldsList.Where(f => f.Name != "memory_bytes"))
        {
            builder.Field(field);
        }

        var schema = builder.Metadata(full.Metadata).Build();
        var payload = Write(schema, StandardColumns(schema, rows: 2));

        var exception = Assert.Throws<TelemetryFormatException>(() => TelemetryArrow.Deserialize(payload));

        Assert.Equal("column 'memory_bytes' is missing", exception.Message);
    }

    [Fact]
    public void Deserialize_ColumnOfAnotherType_ThrowsNamingColumnAndTypes()
    {
        var full = TelemetryArrow.CreateSchema("dev-1");
        var builder = new Schema.Builder();
        foreach (var field in full.FieldsList)
        {
            builder.Field(field.Name == "errors" ? new Field("errors", DoubleType.Default, false) : field);
        }

        var schema = builder.Metadata(full.Metadata).Build();
        var payload = Write(schema, StandardColumns(schema, rows: 1));

        var exception = Assert.Throws<TelemetryFormatException>(() => TelemetryArrow.Deserialize(payload));

        Assert.Equal("column 'errors' is double, expected int64", exception.Message);
    }

    [Fact]
    public void Deserialize_NullInRequiredColumn_ThrowsNamingTheColumn()
    {
        var schema = TelemetryArrow.CreateSchema("dev-1");
        var columns = StandardColumns(schema, rows: 2);
        var index = schema.GetFieldIndex("events_in");
        columns[index] = new Int64Array.Builder().Append(5).AppendNull().Build();
        var payload = Write(schema, columns);

        var exception = Assert.Throws<TelemetryFormatException>(() => TelemetryArrow.Deserialize(payload));

        Assert.Equal("column 'events_in' has a null", exception.Message);
    }

    [Fact]
    public void Deserialize_SchemaOnlyStream_ThrowsNoRecordBatch()
    {
        var schema = TelemetryArrow.CreateSchema("dev-1");
        using var buffer = new MemoryStream();
        using (var writer = new ArrowStreamWriter(buffer, schema, leaveOpen: true))
        {
            writer.WriteStart();
            writer.WriteEnd();
        }

        var exception = Assert.Throws<TelemetryFormatException>(() => TelemetryArrow.Deserialize(buffer.ToArray()));

        Assert.Equal("the stream holds no record batch", exception.Message);
    }

    [Fact]
    public void Deserialize_SpoolAndLatencyColumns_RoundTrip()
    {
        var record = Sample(4) with { LatencyP95Ms = 9.5, QueueDepth = 12, QueueBytes = 4096, ReportsShed = 3 };

        var decoded = Assert.Single(TelemetryArrow.Deserialize(TelemetryArrow.Serialize("dev-1", [record])).Records);

        Assert.Equal(record, decoded);
    }

    [Fact]
    public void Deserialize_BatchFromAnAgentWithoutTheLaterColumns_ReadsThemAsZero()
    {
        string[] later = ["latency_p95_ms", "queue_depth", "queue_bytes", "reports_shed"];
        var full = TelemetryArrow.CreateSchema("dev-1");
        var builder = new Schema.Builder();
        foreach (var field in full.FieldsList.Where(f => !later.Contains(f.Name)))
        {
            builder.Field(field);
        }

        var schema = builder.Metadata(full.Metadata).Build();

        var decoded = Assert.Single(TelemetryArrow.Deserialize(Write(schema, StandardColumns(schema, rows: 1))).Records);

        Assert.Equal((0.0, 0L, 0L, 0L), (decoded.LatencyP95Ms, decoded.QueueDepth, decoded.QueueBytes, decoded.ReportsShed));
        Assert.Equal(1, decoded.EventsIn);
    }

    [Fact]
    public void Deserialize_LaterColumnOfAnotherType_ThrowsNamingIt()
    {
        var full = TelemetryArrow.CreateSchema("dev-1");
        var builder = new Schema.Builder();
        foreach (var field in full.FieldsList)
        {
            builder.Field(field.Name == "reports_shed" ? new Field("reports_shed", DoubleType.Default, false) : field);
        }

        var schema = builder.Metadata(full.Metadata).Build();

        var exception = Assert.Throws<TelemetryFormatException>(() => TelemetryArrow.Deserialize(Write(schema, StandardColumns(schema, rows: 1))));

        Assert.Equal("column 'reports_shed' is double, expected int64", exception.Message);
    }

    [Fact]
    public void Deserialize_HealthColumnsOfThisRelease_RoundTrip()
    {
        var record = Sample(5) with
        {
            DiskFreeBytes = 10_000_000_000,
            DiskTotalBytes = 64_000_000_000,
            AgentVersion = "1.4.0+abc",
            AttestationState = AttestationStates.Verified,
            HeartbeatSeconds = 10,
            EventsDropped = 7,
            FeedbackUnmatched = 3,
            FeedbackMalformed = 1,
        };

        var decoded = Assert.Single(TelemetryArrow.Deserialize(TelemetryArrow.Serialize("dev-1", [record])).Records);

        Assert.Equal(record, decoded);
    }

    [Fact]
    public void Deserialize_BatchFromAnAgentBeforeDiskAndAttestation_ReadsThemAsZeroAndNull()
    {
        string[] later = ["disk_free_bytes", "disk_total_bytes", "agent_version", "attestation_state", "heartbeat_seconds", "events_dropped", "feedback_unmatched", "feedback_malformed"];
        var full = TelemetryArrow.CreateSchema("dev-1");
        var builder = new Schema.Builder();
        foreach (var field in full.FieldsList.Where(f => !later.Contains(f.Name)))
        {
            builder.Field(field);
        }

        var schema = builder.Metadata(full.Metadata).Build();

        var decoded = Assert.Single(TelemetryArrow.Deserialize(Write(schema, StandardColumns(schema, rows: 1))).Records);

        Assert.Equal((0L, 0L, (string?)null, (string?)null, 0, 0L, 0L, 0L), (decoded.DiskFreeBytes, decoded.DiskTotalBytes, decoded.AgentVersion, decoded.AttestationState, decoded.HeartbeatSeconds, decoded.EventsDropped, decoded.FeedbackUnmatched, decoded.FeedbackMalformed));
        Assert.Equal(1, decoded.QueueDepth);
    }

    [Fact]
    public void Deserialize_AgentVersionOffsetsBeyondItsData_ThrowsNamingTheColumn()
    {
        var schema = TelemetryArrow.CreateSchema("dev-1");
        var columns = StandardColumns(schema, rows: 1);
        columns[schema.GetFieldIndex("agent_version")] = new StringArray(
            1,
            new ArrowBuffer.Builder<int>().Append(0).Append(5000).Build(),
            new ArrowBuffer.Builder<byte>().Append((byte)'1').Build(),
            ArrowBuffer.Empty,
            nullCount: 0);

        var exception = Assert.Throws<TelemetryFormatException>(() => TelemetryArrow.Deserialize(Write(schema, columns)));

        Assert.Equal("column 'agent_version' has offsets outside its data (row 0)", exception.Message);
    }

    [Fact]
    public void Serialize_EmptyDeviceId_Throws()
    {
        Assert.ThrowsAny<ArgumentException>(() => TelemetryArrow.Serialize("", [Sample(1)]));
    }

    private static TelemetryRecord Sample(long sequence) =>
        new(sequence, Start.AddSeconds(10 * sequence), "m", "1", null, 100 + sequence, 90 + sequence, 1, 2, 1.25, 7.5, 12.0, 33.3, 1_000_000 + sequence);

    private static byte[] WithModelNameOffsets(int first, int last)
    {
        var schema = TelemetryArrow.CreateSchema("dev-1");
        var columns = StandardColumns(schema, rows: 1);
        columns[schema.GetFieldIndex("model_name")] = new StringArray(
            1,
            new ArrowBuffer.Builder<int>().Append(first).Append(last).Build(),
            new ArrowBuffer.Builder<byte>().Append((byte)'m').Build(),
            ArrowBuffer.Empty,
            nullCount: 0);
        return Write(schema, columns);
    }

    private static Schema WithMetadata(Schema schema, string key, string value)
    {
        var builder = new Schema.Builder();
        foreach (var field in schema.FieldsList)
        {
            builder.Field(field);
        }

        foreach (var (k, v) in schema.Metadata)
        {
            builder.Metadata(k, k == key ? value : v);
        }

        return builder.Build();
    }

    // One array per field of the schema, each filled with plausible values of the field's type.
    private static IArrowArray[] StandardColumns(Schema schema, int rows)
    {
        var arrays = new IArrowArray[schema.FieldsList.Count];
        for (var i = 0; i < arrays.Length; i++)
        {
            arrays[i] = schema.FieldsList[i].DataType switch
            {
                Int64Type => new Int64Array.Builder().AppendRange(Enumerable.Range(1, rows).Select(r => (long)r)).Build(),
                Int32Type => new Int32Array.Builder().AppendRange(Enumerable.Range(1, rows)).Build(),
                DoubleType => new DoubleArray.Builder().AppendRange(Enumerable.Range(1, rows).Select(r => r * 1.5)).Build(),
                StringType => new StringArray.Builder().AppendRange(Enumerable.Range(1, rows).Select(r => $"s{r}")).Build(),
                TimestampType t => new TimestampArray.Builder(t).AppendRange(Enumerable.Range(1, rows).Select(r => Start.AddSeconds(r))).Build(),
                var other => throw new InvalidOperationException($"no test data for {other.Name}"),
            };
        }

        return arrays;
    }

    private static byte[] Write(Schema schema, IArrowArray[] columns)
    {
        using var batch = new RecordBatch(schema, columns, columns[0].Length);
        using var buffer = new MemoryStream();
        using (var writer = new ArrowStreamWriter(buffer, schema, leaveOpen: true))
        {
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }

        return buffer.ToArray();
    }
}
