using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;

namespace EdgePlatform.Contracts;

/// <summary>
/// What the Arrow codecs of every telemetry kind share: the schema checks, the bounds checks that
/// keep hostile offsets from reading outside a buffer, and the column builders.
/// </summary>
internal static class TelemetryColumns
{
    public static readonly TimestampType TimestampUtcMs = new(TimeUnit.Millisecond, "UTC");

    public static Schema CreateSchema<T>(TelemetrySchema<T> schema, string deviceId)
    {
        var builder = new Schema.Builder();
        foreach (var field in schema.Fields)
        {
            builder.Field(f => f.Name(field.Name).DataType(field.ArrowType).Nullable(field.ArrowNullable));
        }

        return builder.Metadata(TelemetryArrow.SchemaIdKey, schema.SchemaId).Metadata(TelemetryArrow.DeviceIdKey, deviceId).Build();
    }

    /// <summary>Encodes <paramref name="records"/> as one record batch, a column per declared field.</summary>
    public static byte[] Serialize<T>(TelemetrySchema<T> schema, string deviceId, IReadOnlyList<T> records)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        ArgumentNullException.ThrowIfNull(records);
        var arrays = schema.Fields.Select(field => Build(field, records)).ToArray();
        return Write(CreateSchema(schema, deviceId), arrays, records.Count);
    }

    /// <summary>
    /// Decodes every record batch of <paramref name="payload"/>: each row starts as
    /// <see cref="TelemetrySchema{T}.Empty"/> and takes each declared field the batch has;
    /// <paramref name="validate"/> checks a finished row (with its index) beyond its columns' types.
    /// </summary>
    public static (string DeviceId, List<T> Records) Deserialize<T>(TelemetrySchema<T> schema, ReadOnlyMemory<byte> payload, Action<T, int>? validate = null) =>
        Read<T>(payload, schema, (batch, records) =>
        {
            var setters = schema.Fields.Select(field => Bind(field, batch)).OfType<Func<T, int, T>>().ToArray();
            for (var i = 0; i < batch.Length; i++)
            {
                var record = schema.Empty;
                foreach (var set in setters)
                {
                    record = set(record, i);
                }

                validate?.Invoke(record, i);
                records.Add(record);
            }
        });

    private static IArrowArray Build<T>(TelemetryField<T> field, IReadOnlyList<T> records) => field switch
    {
        TelemetryField<T, long> f => Int64(records, f.Get),
        TelemetryField<T, int> f => Int32(records, f.Get),
        TelemetryField<T, double> f => Double(records, f.Get),
        TelemetryField<T, double?> f => NullableDouble(records, f.Get),
        TelemetryField<T, DateTimeOffset> f => Timestamp(records, f.Get),
        TelemetryField<T, string> f => String(records, f.Get),
        TelemetryField<T, ReadOnlyMemory<byte>> f => Binary(records, f.Get),
        TelemetryField<T, IReadOnlyList<long>> f => Int64List(records, f.Get),
        TelemetryField<T, IReadOnlyList<double>> f => DoubleList(records, f.Get),
        TelemetryField<T, IReadOnlyList<double?>> f => NullableDoubleList(records, f.Get),
        TelemetryField<T, IReadOnlyList<string>> f => StringList(records, f.Get),
        _ => throw new NotSupportedException($"no Arrow encoding for field '{field.Name}'"),
    };

    /// <summary>
    /// How row i of the batch sets the field, its buffers checked first; null for an optional
    /// field the batch lacks, which keeps the empty record's value.
    /// </summary>
    private static Func<T, int, T>? Bind<T>(TelemetryField<T> field, RecordBatch batch)
    {
        var index = batch.Schema.GetFieldIndex(field.Name);
        if (index < 0)
        {
            return null;
        }

        var name = field.Name;
        var array = batch.Column(index);
        switch (field)
        {
            case TelemetryField<T, long> f:
                var int64 = (Int64Array)array;
                return (r, i) => f.With(r, Required(int64.GetValue(i), name));
            case TelemetryField<T, int> f:
                var int32 = (Int32Array)array;
                return (r, i) => f.With(r, Required(int32.GetValue(i), name));
            case TelemetryField<T, double> f:
                var doubles = (DoubleArray)array;
                return (r, i) => f.With(r, Required(doubles.GetValue(i), name));
            case TelemetryField<T, double?> f:
                var nullableDoubles = (DoubleArray)array;
                return (r, i) => f.With(r, nullableDoubles.GetValue(i));
            case TelemetryField<T, DateTimeOffset> f:
                var timestamps = (TimestampArray)array;
                return (r, i) => f.With(r, timestamps.GetTimestamp(i) ?? throw new TelemetryFormatException($"column '{name}' has a null"));
            case TelemetryField<T, string> f:
                var strings = (StringArray)array;
                ValidateOffsets(strings, name);
                return field.Nullable ? (r, i) => f.With(r, strings.GetString(i)) : (r, i) => f.With(r, RequiredString(strings, i, name));
            case TelemetryField<T, ReadOnlyMemory<byte>> f:
                var binary = (BinaryArray)array;
                ValidateOffsets(binary, name);
                return (r, i) => f.With(r, binary.IsNull(i) ? throw new TelemetryFormatException($"column '{name}' has a null") : binary.GetBytes(i).ToArray());
            case TelemetryField<T, IReadOnlyList<long>> f:
                var int64Lists = List(array, name);
                return (r, i) => f.With(r, Int64Items(NotNull(int64Lists, i, name), i, name));
            case TelemetryField<T, IReadOnlyList<double>> f:
                var doubleLists = List(array, name);
                return (r, i) => f.With(r, DoubleItems(NotNull(doubleLists, i, name), i, name));
            case TelemetryField<T, IReadOnlyList<double?>> f:
                var nullableDoubleLists = List(array, name);
                return (r, i) => f.With(r, NullableDoubleItems(NotNull(nullableDoubleLists, i, name), i, name));
            case TelemetryField<T, IReadOnlyList<string>> f:
                var stringLists = List(array, name);
                return (r, i) => f.With(r, StringItems(NotNull(stringLists, i, name), i, name));
            default:
                throw new NotSupportedException($"no Arrow decoding for field '{name}'");
        }

        static ListArray List(IArrowArray array, string name)
        {
            var list = (ListArray)array;
            ValidateList(list, name);
            return list;
        }

        static ListArray NotNull(ListArray list, int row, string name) =>
            list.IsNull(row) ? throw new TelemetryFormatException($"column '{name}' has a null") : list;
    }

    public static byte[] Write(Schema schema, IArrowArray[] arrays, int rows)
    {
        using var batch = new RecordBatch(schema, arrays, rows);
        using var buffer = new MemoryStream();
        using (var writer = new ArrowStreamWriter(buffer, schema, leaveOpen: true))
        {
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// Reads every record batch of <paramref name="payload"/>, checking the stream's schema first.
    /// Any failure of the Arrow reader becomes a <see cref="TelemetryFormatException"/>.
    /// </summary>
    private static (string DeviceId, List<T> Records) Read<T>(
        ReadOnlyMemory<byte> payload, TelemetrySchema<T> schema, Action<RecordBatch, List<T>> readBatch)
    {
        try
        {
            ArrowIpcGuard.Check(payload);
            using var reader = new ArrowStreamReader(payload);
            var records = new List<T>();
            string? deviceId = null;
            while (reader.ReadNextRecordBatch() is { } batch)
            {
                using (batch)
                {
                    // A stream has one schema, which every batch carries: check it once.
                    deviceId ??= ValidateSchema(batch.Schema, schema);
                    readBatch(batch, records);
                }
            }

            if (deviceId is null)
            {
                throw new TelemetryFormatException("the stream holds no record batch");
            }

            return (deviceId, records);
        }
        catch (Exception ex) when (ex is not (TelemetryFormatException or OutOfMemoryException or OperationCanceledException))
        {
            // The Arrow reader reports malformed input with many exception types, some of them
            // plain System.Exception; any of them means the same thing to a caller.
            throw new TelemetryFormatException($"not an Arrow IPC stream of this schema: {ex.Message}", ex);
        }
    }

    public static string ValidateSchema<T>(Schema schema, TelemetrySchema<T> declared)
    {
        var schemaId = declared.SchemaId;
        if (schema.Metadata is null
            || !schema.Metadata.TryGetValue(TelemetryArrow.SchemaIdKey, out var id)
            || !string.Equals(id, schemaId, StringComparison.Ordinal))
        {
            throw new TelemetryFormatException($"schema metadata '{TelemetryArrow.SchemaIdKey}' is not '{schemaId}'");
        }

        if (!schema.Metadata.TryGetValue(TelemetryArrow.DeviceIdKey, out var deviceId) || string.IsNullOrEmpty(deviceId))
        {
            throw new TelemetryFormatException($"schema metadata '{TelemetryArrow.DeviceIdKey}' is missing");
        }

        foreach (var column in declared.Fields)
        {
            var field = schema.GetFieldByName(column.Name);
            if (field is null)
            {
                if (column.Optional)
                {
                    continue;
                }

                throw new TelemetryFormatException($"column '{column.Name}' is missing");
            }

            if (!SameType(field.DataType, column.ArrowType))
            {
                throw new TelemetryFormatException($"column '{column.Name}' is {Describe(field.DataType)}, expected {Describe(column.ArrowType)}");
            }
        }

        return deviceId;
    }

    public static T Required<T>(T? value, string column)
        where T : struct =>
        value ?? throw new TelemetryFormatException($"column '{column}' has a null");

    public static string RequiredString(StringArray strings, int row, string column) =>
        strings.IsNull(row) ? throw new TelemetryFormatException($"column '{column}' has a null") : strings.GetString(row);

    /// <summary>
    /// The reader decodes strings through raw pointers, so offsets that point past the data
    /// buffer would read foreign memory or crash the process: check them before any read.
    /// </summary>
    public static void ValidateOffsets(BinaryArray values, string column) =>
        CheckOffsets(values.ValueOffsets, values.Offset, values.Length, values.ValueBuffer.Length, column, "offsets outside its data");

    /// <summary>
    /// Checks a list column's offsets against its element array (and, for string elements, the
    /// elements' own offsets), so that reading row i's elements stays inside the buffers.
    /// </summary>
    public static void ValidateList(ListArray list, string column)
    {
        CheckOffsets(list.ValueOffsets, list.Offset, list.Length, list.Values.Length, column, "list offsets outside its elements");
        if (list.Values is StringArray strings)
        {
            ValidateOffsets(strings, column + ".item");
        }
    }

    public static long[] Int64Items(ListArray list, int row, string column) => RequiredItems<long>(list, row, column);

    public static double[] DoubleItems(ListArray list, int row, string column) => RequiredItems<double>(list, row, column);

    private static T[] RequiredItems<T>(ListArray list, int row, string column)
        where T : struct, IEquatable<T>
    {
        var (start, count) = Range(list, row, column);
        var items = (PrimitiveArray<T>)list.Values;
        var result = new T[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = items.GetValue(start + i) ?? throw new TelemetryFormatException($"column '{column}' has a null element (row {row})");
        }

        return result;
    }

    public static double?[] NullableDoubleItems(ListArray list, int row, string column)
    {
        var (start, count) = Range(list, row, column);
        var items = (DoubleArray)list.Values;
        var result = new double?[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = items.GetValue(start + i);
        }

        return result;
    }

    public static string[] StringItems(ListArray list, int row, string column)
    {
        var (start, count) = Range(list, row, column);
        var items = (StringArray)list.Values;
        var result = new string[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = items.IsNull(start + i)
                ? throw new TelemetryFormatException($"column '{column}' has a null element (row {row})")
                : items.GetString(start + i);
        }

        return result;
    }

    public static Int64Array Int64<T>(IReadOnlyList<T> records, Func<T, long> select) =>
        new Int64Array.Builder().AppendRange(records.Select(select)).Build();

    public static Int32Array Int32<T>(IReadOnlyList<T> records, Func<T, int> select) =>
        new Int32Array.Builder().AppendRange(records.Select(select)).Build();

    public static DoubleArray Double<T>(IReadOnlyList<T> records, Func<T, double> select) =>
        new DoubleArray.Builder().AppendRange(records.Select(select)).Build();

    public static DoubleArray NullableDouble<T>(IReadOnlyList<T> records, Func<T, double?> select)
    {
        var builder = new DoubleArray.Builder();
        foreach (var record in records)
        {
            if (select(record) is { } value)
            {
                builder.Append(value);
            }
            else
            {
                builder.AppendNull();
            }
        }

        return builder.Build();
    }

    public static TimestampArray Timestamp<T>(IReadOnlyList<T> records, Func<T, DateTimeOffset> select) =>
        new TimestampArray.Builder(TimestampUtcMs).AppendRange(records.Select(select)).Build();

    public static StringArray String<T>(IReadOnlyList<T> records, Func<T, string?> select)
    {
        var builder = new StringArray.Builder();
        foreach (var record in records)
        {
            var value = select(record);
            if (value is null)
            {
                builder.AppendNull();
            }
            else
            {
                builder.Append(value);
            }
        }

        return builder.Build();
    }

    public static BinaryArray Binary<T>(IReadOnlyList<T> records, Func<T, ReadOnlyMemory<byte>> select)
    {
        var builder = new BinaryArray.Builder();
        foreach (var record in records)
        {
            builder.Append(select(record).Span);
        }

        return builder.Build();
    }

    public static ListArray Int64List<T>(IReadOnlyList<T> records, Func<T, IReadOnlyList<long>> select)
    {
        var builder = new ListArray.Builder(Int64Type.Default);
        var items = (Int64Array.Builder)builder.ValueBuilder;
        foreach (var record in records)
        {
            builder.Append();
            items.AppendRange(select(record));
        }

        return builder.Build();
    }

    public static ListArray DoubleList<T>(IReadOnlyList<T> records, Func<T, IReadOnlyList<double>> select)
    {
        var builder = new ListArray.Builder(DoubleType.Default);
        var items = (DoubleArray.Builder)builder.ValueBuilder;
        foreach (var record in records)
        {
            builder.Append();
            items.AppendRange(select(record));
        }

        return builder.Build();
    }

    public static ListArray NullableDoubleList<T>(IReadOnlyList<T> records, Func<T, IReadOnlyList<double?>> select)
    {
        var builder = new ListArray.Builder(new Field("item", DoubleType.Default, true));
        var items = (DoubleArray.Builder)builder.ValueBuilder;
        foreach (var record in records)
        {
            builder.Append();
            foreach (var value in select(record))
            {
                if (value is { } present)
                {
                    items.Append(present);
                }
                else
                {
                    items.AppendNull();
                }
            }
        }

        return builder.Build();
    }

    public static ListArray StringList<T>(IReadOnlyList<T> records, Func<T, IReadOnlyList<string>> select)
    {
        var builder = new ListArray.Builder(StringType.Default);
        var items = (StringArray.Builder)builder.ValueBuilder;
        foreach (var record in records)
        {
            builder.Append();
            items.AppendRange(select(record));
        }

        return builder.Build();
    }

    /// <summary>
    /// Rows <paramref name="first"/> to <paramref name="first"/> + <paramref name="rows"/> of an
    /// offsets buffer must each start at or after the previous row and end within <paramref name="limit"/>.
    /// </summary>
    private static void CheckOffsets(ReadOnlySpan<int> offsets, int first, int rows, int limit, string column, string outside)
    {
        if (rows > 0 && offsets.Length < first + rows + 1)
        {
            throw new TelemetryFormatException($"column '{column}' has fewer offsets than rows");
        }

        for (var i = first; i < first + rows; i++)
        {
            if (offsets[i] < 0 || offsets[i + 1] < offsets[i] || offsets[i + 1] > limit)
            {
                throw new TelemetryFormatException($"column '{column}' has {outside} (row {i - first})");
            }
        }
    }

    private static (int Start, int Count) Range(ListArray list, int row, string column)
    {
        var offsets = list.ValueOffsets;
        var start = offsets[list.Offset + row];
        var end = offsets[list.Offset + row + 1];
        if (start < 0 || end < start || end > list.Values.Length)
        {
            throw new TelemetryFormatException($"column '{column}' has list offsets outside its elements (row {row})");
        }

        return (start, end - start);
    }

    /// <summary>
    /// Same type id, and for a list the same element type id: for the types telemetry uses, the
    /// id alone fixes the width, so a string column cannot arrive as another binary-like type.
    /// </summary>
    private static bool SameType(IArrowType actual, IArrowType expected) =>
        actual.TypeId == expected.TypeId
        && (expected is not ListType list || (actual is ListType actualList && actualList.ValueDataType.TypeId == list.ValueDataType.TypeId));

    private static string Describe(IArrowType type) => type is ListType list ? $"list<{list.ValueDataType.Name}>" : type.Name;
}
