using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;

namespace EdgePlatform.Contracts.Tests;

public class PerfArrowTests
{
    private static readonly DateTimeOffset Start = new(2025, 3, 1, 12, 0, 0, 123, TimeSpan.Zero);

    // The first bytes of a real HdrHistogram compressed V2 encoding; the decoder checks only the cookie.
    private static readonly byte[] Histogram = [0x1c, 0x84, 0x93, 0x14, 0, 0, 0, 0xd8, 1, 2, 3];

    [Fact]
    public void Deserialize_SerializedBatch_RoundTripsEveryRecord()
    {
        PerfRecord[] records =
        [
            Sample(7, Arms.Control),
            Sample(8, Arms.Candidate) with { BatchSizeHistogram = [], LatencyHistogram = ReadOnlyMemory<byte>.Empty, Dropped = 0 },
            Sample(9, Arms.Control) with { ModelVersion = "4", EventsIn = long.MaxValue, LatencyMaxMs = 60_000 },
        ];

        var batch = PerfArrow.Deserialize(PerfArrow.Serialize("dev-1", records));

        Assert.Equal("dev-1", batch.DeviceId);
        Assert.Equal(records, batch.Records);
    }

    [Fact]
    public void Deserialize_HealthStream_ThrowsNamingTheSchema()
    {
        var health = TelemetryArrow.Serialize("dev-1", [new TelemetryRecord(1, Start, "m", "1", null, 1, 1, 0, 0, 0, 0, 0, 0, 0)]);

        var exception = Assert.Throws<TelemetryFormatException>(() => PerfArrow.Deserialize(health));

        Assert.Equal("schema metadata 'schema' is not 'edgeplatform.telemetry.perf.v1'", exception.Message);
    }

    [Fact]
    public void Deserialize_PerfStreamAsHealth_ThrowsNamingTheSchema()
    {
        var perf = PerfArrow.Serialize("dev-1", [Sample(1, Arms.Control)]);

        var exception = Assert.Throws<TelemetryFormatException>(() => TelemetryArrow.Deserialize(perf));

        Assert.Equal("schema metadata 'schema' is not 'edgeplatform.telemetry.v1'", exception.Message);
    }

    [Fact]
    public void Deserialize_MissingColumn_ThrowsNamingIt()
    {
        var schema = Without(PerfArrow.CreateSchema("dev-1"), "dropped");

        var exception = Assert.Throws<TelemetryFormatException>(() => PerfArrow.Deserialize(ArrowTestData.Write(schema, ArrowTestData.Columns(schema, 1))));

        Assert.Equal("column 'dropped' is missing", exception.Message);
    }

    [Fact]
    public void Deserialize_ListOfAnotherElementType_ThrowsNamingColumnAndTypes()
    {
        var full = PerfArrow.CreateSchema("dev-1");
        var schema = ArrowTestData.Replace(full, new Field("batch_size_histogram", new ListType(DoubleType.Default), false));

        var exception = Assert.Throws<TelemetryFormatException>(() => PerfArrow.Deserialize(ArrowTestData.Write(schema, ArrowTestData.Columns(schema, 1))));

        Assert.Equal("column 'batch_size_histogram' is list<double>, expected list<int64>", exception.Message);
    }

    [Fact]
    public void Deserialize_NullArm_ThrowsNamingTheColumn()
    {
        var schema = PerfArrow.CreateSchema("dev-1");
        var columns = ArrowTestData.Columns(schema, 2);
        columns[schema.GetFieldIndex("arm")] = new StringArray.Builder().Append("control").AppendNull().Build();

        var exception = Assert.Throws<TelemetryFormatException>(() => PerfArrow.Deserialize(ArrowTestData.Write(schema, columns)));

        Assert.Equal("column 'arm' has a null", exception.Message);
    }

    [Fact]
    public void Deserialize_HistogramOffsetsBeyondItsData_ThrowsNamingTheColumn()
    {
        var schema = PerfArrow.CreateSchema("dev-1");
        var columns = ArrowTestData.Columns(schema, 1);
        columns[schema.GetFieldIndex("latency_histogram")] = new BinaryArray(
            BinaryType.Default,
            1,
            new ArrowBuffer.Builder<int>().Append(0).Append(1_000_000).Build(),
            new ArrowBuffer.Builder<byte>().Append(Histogram).Build(),
            ArrowBuffer.Empty,
            nullCount: 0);

        var exception = Assert.Throws<TelemetryFormatException>(() => PerfArrow.Deserialize(ArrowTestData.Write(schema, columns)));

        Assert.Contains("latency_histogram", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deserialize_ListOffsetsBeyondItsElements_ThrowsNamingTheColumn()
    {
        var schema = PerfArrow.CreateSchema("dev-1");
        var columns = ArrowTestData.Columns(schema, 1);
        columns[schema.GetFieldIndex("batch_size_histogram")] = new ListArray(
            new ListType(Int64Type.Default),
            1,
            new ArrowBuffer.Builder<int>().Append(0).Append(500).Build(),
            new Int64Array.Builder().Append(1).Append(2).Build(),
            ArrowBuffer.Empty,
            nullCount: 0);

        var exception = Assert.Throws<TelemetryFormatException>(() => PerfArrow.Deserialize(ArrowTestData.Write(schema, columns)));

        Assert.Equal("column 'batch_size_histogram' has list offsets outside its elements (row 0)", exception.Message);
    }

    [Fact]
    public void Deserialize_HistogramThatIsNotHdrHistogram_ThrowsNamingTheColumn()
    {
        var payload = PerfArrow.Serialize("dev-1", [Sample(1, Arms.Control) with { LatencyHistogram = "not a histogram"u8.ToArray() }]);

        var exception = Assert.Throws<TelemetryFormatException>(() => PerfArrow.Deserialize(payload));

        Assert.Equal("column 'latency_histogram' is not an HdrHistogram in the compressed V2 encoding (row 0)", exception.Message);
    }

    [Fact]
    public void Deserialize_EverySingleByteCorruption_DecodesOrThrowsTelemetryFormatException() =>
        // A damaged length must not make the reader reserve what it claims (a list of 2^31 columns is 17 GB).
        ArrowTestData.AssertEverySingleByteCorruptionDecodesOrIsRefused(
            PerfArrow.Serialize("dev-1", [Sample(1, Arms.Control), Sample(2, Arms.Candidate)]), p => PerfArrow.Deserialize(p), maxAllocatedBytes: 16 << 20);

    [Fact]
    public void Deserialize_RandomBytes_ThrowsTelemetryFormatException() =>
        ArrowTestData.AssertRandomBytesRefused(4321, p => PerfArrow.Deserialize(p));

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    [InlineData(4, 2)]
    [InlineData(5, 3)]
    [InlineData(64, 6)]
    [InlineData(65, 7)]
    [InlineData(4096, 12)]
    public void BatchSizeBucket_Size_FallsInItsPowerOfTwoBucket(int size, int bucket)
    {
        Assert.Equal(bucket, PerfRecord.BatchSizeBucket(size));
    }

    [Fact]
    public void Json_PerfRecord_RoundTripsThroughTheContractsContext()
    {
        var record = Sample(3, Arms.Candidate);

        var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(record, ContractsJsonContext.Default.PerfRecord);

        Assert.Equal(record, System.Text.Json.JsonSerializer.Deserialize(json, ContractsJsonContext.Default.PerfRecord));
    }

    internal static PerfRecord Sample(long sequence, string arm) => new(
        sequence, Start.AddSeconds(10 * sequence), 10_000, "sensor-anomaly", "3", "sha256:" + new string('b', 64), arm,
        120, 100, 5, 10, 5, 0.8, 2.5, 4.75, 9.125, 1.1, Histogram, 4, 25.0, 64, [1, 0, 0, 1, 0, 0, 2]);

    private static Schema Without(Schema full, string column)
    {
        var builder = new Schema.Builder();
        foreach (var field in full.FieldsList.Where(f => f.Name != column))
        {
            builder.Field(field);
        }

        return builder.Metadata(full.Metadata).Build();
    }
}

/// <summary>Builds Arrow streams of any telemetry schema, with plausible values of each column's type.</summary>
internal static class ArrowTestData
{
    private static readonly DateTimeOffset Start = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Sets every byte of <paramref name="valid"/> in turn to 0x00, 0x7F and 0xFF: each payload must
    /// decode or be refused with a <see cref="TelemetryFormatException"/>, and, with
    /// <paramref name="maxAllocatedBytes"/>, make the decoder allocate no more than that.
    /// </summary>
    public static void AssertEverySingleByteCorruptionDecodesOrIsRefused(byte[] valid, Action<byte[]> decode, long? maxAllocatedBytes = null)
    {
        foreach (var value in new byte[] { 0x00, 0x7F, 0xFF })
        {
            for (var i = 0; i < valid.Length; i++)
            {
                var payload = (byte[])valid.Clone();
                payload[i] = value;
                var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();

                var exception = Xunit.Record.Exception(() => decode(payload));

                Assert.True(exception is null or TelemetryFormatException, $"byte {i} set to {value:x2}: {exception?.GetType().Name}: {exception?.Message}");
                var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
                Assert.True(maxAllocatedBytes is not { } limit || allocated < limit, $"byte {i} set to {value:x2} made the decoder allocate {allocated} bytes");
            }
        }
    }

    /// <summary>Fifty random payloads of 1 to 511 bytes from <paramref name="seed"/>: each must be refused with a <see cref="TelemetryFormatException"/>.</summary>
    public static void AssertRandomBytesRefused(int seed, Action<byte[]> decode)
    {
        var random = new Random(seed);
        for (var i = 0; i < 50; i++)
        {
            var payload = new byte[random.Next(1, 512)];
            random.NextBytes(payload);

            var exception = Xunit.Record.Exception(() => decode(payload));

            Assert.True(exception is TelemetryFormatException, $"payload {Convert.ToHexString(payload)} threw {exception?.GetType().Name ?? "nothing"}: {exception?.Message}");
        }
    }

    public static Schema Replace(Schema full, Field replacement)
    {
        var builder = new Schema.Builder();
        foreach (var field in full.FieldsList)
        {
            builder.Field(field.Name == replacement.Name ? replacement : field);
        }

        return builder.Metadata(full.Metadata).Build();
    }

    public static IArrowArray[] Columns(Schema schema, int rows, int listLength = 1)
    {
        var arrays = new IArrowArray[schema.FieldsList.Count];
        for (var i = 0; i < arrays.Length; i++)
        {
            arrays[i] = Column(schema.FieldsList[i], rows, listLength);
        }

        return arrays;
    }

    public static byte[] Write(Schema schema, IArrowArray[] columns)
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

    private static IArrowArray Column(Field field, int rows, int listLength) => field.DataType switch
    {
        Int64Type => new Int64Array.Builder().AppendRange(Enumerable.Range(1, rows).Select(r => (long)r)).Build(),
        Int32Type => new Int32Array.Builder().AppendRange(Enumerable.Range(1, rows)).Build(),
        DoubleType => new DoubleArray.Builder().AppendRange(Enumerable.Range(1, rows).Select(r => r * 1.5)).Build(),
        StringType => new StringArray.Builder().AppendRange(Enumerable.Range(1, rows).Select(r => $"s{r}")).Build(),
        BinaryType => BinaryOf(rows),
        TimestampType t => new TimestampArray.Builder(t).AppendRange(Enumerable.Range(1, rows).Select(r => Start.AddSeconds(r))).Build(),
        ListType list => ListOf(list, rows, listLength),
        var other => throw new InvalidOperationException($"no test data for {other.Name}"),
    };

    private static BinaryArray BinaryOf(int rows)
    {
        var builder = new BinaryArray.Builder();
        for (var r = 0; r < rows; r++)
        {
            builder.Append([0x1c, 0x84, 0x93, 0x14, (byte)r]);
        }

        return builder.Build();
    }

    private static ListArray ListOf(ListType type, int rows, int length)
    {
        var builder = new ListArray.Builder(type.ValueField);
        for (var r = 0; r < rows; r++)
        {
            builder.Append();
            switch (builder.ValueBuilder)
            {
                case Int64Array.Builder longs:
                    longs.AppendRange(Enumerable.Range(0, length).Select(i => (long)i));
                    break;
                case DoubleArray.Builder doubles:
                    doubles.AppendRange(Enumerable.Range(0, length).Select(i => i * 0.5));
                    break;
                case StringArray.Builder strings:
                    strings.AppendRange(Enumerable.Range(0, length).Select(i => $"f{i}"));
                    break;
                default:
                    throw new InvalidOperationException($"no test data for list<{type.ValueDataType.Name}>");
            }
        }

        return builder.Build();
    }
}
