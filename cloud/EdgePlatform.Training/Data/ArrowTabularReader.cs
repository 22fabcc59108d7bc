using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;

namespace EdgePlatform.Training.Data;

/// <summary>
/// Arrow IPC, file or stream format, one record batch at a time. Integer and floating-point
/// fields are numeric, booleans boolean, timestamps and dates date-time, strings (also large
/// and dictionary-encoded) categorical or text; other types must be ignored by an override.
/// </summary>
internal sealed class ArrowTabularReader : TypedColumnarReader
{
    private readonly ArrowStreamReader _reader;
    private readonly Schema _schema;

    private ArrowTabularReader(ArrowStreamReader reader, TabularReadOptions options)
        : base(options)
    {
        _reader = reader;
        _schema = Guard(options.SourceName, () => reader.Schema);
        var fields = _schema.FieldsList;
        Initialize(
            [.. fields.Select(f => f.Name)],
            i => NaturalKind(fields[i]),
            i => fields[i].HasMetadata && fields[i].Metadata.ContainsKey(ArrowTabularWriter.KindKey),
            i => DeclaredCategories(fields[i]));
    }

    public static ArrowTabularReader OpenFile(Stream stream, TabularReadOptions options) =>
        Create(stream, options, () => new ArrowFileReader(stream, leaveOpen: false));

    public static ArrowTabularReader OpenStream(Stream stream, TabularReadOptions options) =>
        Create(stream, options, () => new ArrowStreamReader(stream, leaveOpen: false));

    private static ArrowTabularReader Create(Stream stream, TabularReadOptions options, Func<ArrowStreamReader> open)
    {
        var reader = open();
        try
        {
            return new ArrowTabularReader(reader, options);
        }
        catch
        {
            reader.Dispose();
            stream.Dispose();
            throw;
        }
    }

    public override void Dispose() => _reader.Dispose();

    protected override bool LoadChunk(CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var batch = Guard(Source, _reader.ReadNextRecordBatch);
            if (batch is null)
            {
                return false;
            }

            if (batch.Length == 0)
            {
                continue;
            }

            for (var i = 0; i < _schema.FieldsList.Count; i++)
            {
                if (IsRead(i))
                {
                    ReadField(batch.Column(i), i, batch.Length);
                }
            }

            ChunkRows = batch.Length;
            return true;
        }
    }

    private static T Guard<T>(string source, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or ArgumentException or OverflowException or IndexOutOfRangeException)
        {
            throw DataErrors.File(source, $"not a readable Arrow IPC file or stream: {e.Message}");
        }
    }

    private void ReadField(IArrowArray array, int field, int rows)
    {
        switch (array)
        {
            case StringArray s:
                {
                    var values = StringsFor(field, rows);
                    for (var i = 0; i < rows; i++)
                    {
                        values[i] = s.GetString(i);
                    }

                    return;
                }

            case LargeStringArray s:
                {
                    var values = StringsFor(field, rows);
                    for (var i = 0; i < rows; i++)
                    {
                        values[i] = s.GetString(i);
                    }

                    return;
                }

            case StringViewArray s:
                {
                    var values = StringsFor(field, rows);
                    for (var i = 0; i < rows; i++)
                    {
                        values[i] = s.GetString(i);
                    }

                    return;
                }

            case DictionaryArray d:
                {
                    // Decode each dictionary entry once per batch, then look the indices up.
                    var dictionary = new string?[d.Dictionary.Length];
                    var indices = new double[rows];
                    ReadField(d.Dictionary, field, d.Dictionary.Length);
                    ChunkStrings[field]!.AsSpan(0, dictionary.Length).CopyTo(dictionary);
                    Numbers(d.Indices, indices, rows);
                    var values = StringsFor(field, rows);
                    for (var i = 0; i < rows; i++)
                    {
                        values[i] = double.IsNaN(indices[i]) ? null : dictionary[(int)indices[i]];
                    }

                    return;
                }

            default:
                Numbers(array, NumbersFor(field, rows), rows);
                return;
        }
    }

    private static void Numbers(IArrowArray array, double[] numbers, int rows)
    {
        switch (array)
        {
            case DoubleArray a: Copy(a, numbers, rows, v => v); break;
            case FloatArray a: Copy(a, numbers, rows, v => v); break;
            case HalfFloatArray a: Copy(a, numbers, rows, v => (double)v); break;
            case Int8Array a: Copy(a, numbers, rows, v => v); break;
            case UInt8Array a: Copy(a, numbers, rows, v => v); break;
            case Int16Array a: Copy(a, numbers, rows, v => v); break;
            case UInt16Array a: Copy(a, numbers, rows, v => v); break;
            case Int32Array a: Copy(a, numbers, rows, v => v); break;
            case UInt32Array a: Copy(a, numbers, rows, v => v); break;
            case Int64Array a: Copy(a, numbers, rows, v => v); break;
            case UInt64Array a: Copy(a, numbers, rows, v => v); break;
            case Decimal128Array a:
                for (var i = 0; i < rows; i++)
                {
                    numbers[i] = a.GetValue(i) is { } value ? (double)value : double.NaN;
                }

                break;
            case BooleanArray a:
                for (var i = 0; i < rows; i++)
                {
                    numbers[i] = a.GetValue(i) is { } flag ? (flag ? 1 : 0) : double.NaN;
                }

                break;
            case TimestampArray a:
                for (var i = 0; i < rows; i++)
                {
                    numbers[i] = a.GetTimestamp(i) is { } timestamp ? TextCellParser.ToUnixSeconds(timestamp) : double.NaN;
                }

                break;
            case Date32Array a:
                for (var i = 0; i < rows; i++)
                {
                    numbers[i] = a.GetValue(i) is { } days ? days * 86_400.0 : double.NaN;
                }

                break;
            case Date64Array a:
                for (var i = 0; i < rows; i++)
                {
                    numbers[i] = a.GetValue(i) is { } milliseconds ? milliseconds / 1_000.0 : double.NaN;
                }

                break;
            default:
                throw new InvalidOperationException($"Arrow array {array.GetType().Name} has no kind; it should have been refused when the schema was read.");
        }
    }

    private static void Copy<T>(PrimitiveArray<T> array, double[] numbers, int rows, Func<T, double> convert)
        where T : struct, IEquatable<T>
    {
        for (var i = 0; i < rows; i++)
        {
            numbers[i] = array.GetValue(i) is { } value ? convert(value) : double.NaN;
        }
    }

    /// <summary>The kind this platform's writer recorded, when it fits the field's type; else the type's kind.</summary>
    private ColumnKind NaturalKind(Field field)
    {
        var kind = TypeKind(field);
        if (field.HasMetadata && field.Metadata.TryGetValue(ArrowTabularWriter.KindKey, out var recorded) && ColumnKinds.TryParse(recorded, out var declared)
            && declared != ColumnKind.Ignore && declared.IsNumeric() == kind.IsNumeric())
        {
            return declared;
        }

        return kind;
    }

    private static IReadOnlyList<string>? DeclaredCategories(Field field) =>
        field.HasMetadata && field.Metadata.TryGetValue(ArrowTabularWriter.CategoriesKey, out var json)
            ? System.Text.Json.JsonSerializer.Deserialize(json, ArrowMetadataJson.Default.IReadOnlyListString)
            : null;

    private ColumnKind TypeKind(Field field) => field.DataType switch
    {
        StringType or LargeStringType or StringViewType => ColumnKind.Text,
        DictionaryType { ValueType: StringType or LargeStringType or StringViewType } => ColumnKind.Text,
        Decimal128Type or DoubleType or FloatType or HalfFloatType or Int8Type or UInt8Type or Int16Type or UInt16Type
            or Int32Type or UInt32Type or Int64Type or UInt64Type => ColumnKind.Numeric,
        BooleanType => ColumnKind.Boolean,
        TimestampType or Date32Type or Date64Type => ColumnKind.DateTime,
        _ => throw DataErrors.File(Source, $"the field '{field.Name}' has the Arrow type {field.DataType.Name}, which no column kind holds; ignore it with an override."),
    };
}
