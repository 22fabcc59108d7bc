using Parquet;
using Parquet.Schema;

namespace EdgePlatform.Training.Data;

/// <summary>
/// Apache Parquet through Parquet.Net, one row group at a time (memory is bounded by the largest
/// row group). Integer, floating-point and decimal fields are numeric, booleans boolean,
/// timestamps and dates date-time, strings categorical or text; nested and binary fields must
/// be ignored by an override.
/// </summary>
internal sealed class ParquetTabularReader : TypedColumnarReader
{
    private readonly ParquetReader _reader;
    private readonly DataField[] _fields;
    private int _nextRowGroup;

    private ParquetTabularReader(ParquetReader reader, TabularReadOptions options)
        : base(options)
    {
        _reader = reader;
        _fields = reader.Schema.GetDataFields();
        var topLevel = reader.Schema.Fields;
        Initialize([.. _fields.Select(f => f.Path.ToString())], i => NaturalKind(_fields[i], topLevel));
    }

    public static ParquetTabularReader Open(Stream stream, TabularReadOptions options)
    {
        ParquetReader reader;
        try
        {
            reader = ParquetReader.CreateAsync(stream, leaveStreamOpen: false).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or NotSupportedException or ArgumentException)
        {
            stream.Dispose();
            throw DataErrors.File(options.SourceName, $"not a readable Parquet file: {e.Message}");
        }

        try
        {
            return new ParquetTabularReader(reader, options);
        }
        catch
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    public override void Dispose() => _reader.DisposeAsync().AsTask().GetAwaiter().GetResult();

    protected override bool LoadChunk(CancellationToken cancellationToken)
    {
        while (_nextRowGroup < _reader.RowGroupCount)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var group = _reader.OpenRowGroupReader(_nextRowGroup++);
            var rows = checked((int)group.RowCount);
            if (rows == 0)
            {
                continue;
            }

            for (var i = 0; i < _fields.Length; i++)
            {
                if (IsRead(i))
                {
                    ReadField(group, i, rows, cancellationToken);
                }
            }

            ChunkRows = rows;
            return true;
        }

        return false;
    }

    private void ReadField(ParquetRowGroupReader group, int index, int rows, CancellationToken cancellationToken)
    {
        var field = _fields[index];
        var type = field.ClrType;
        if (IsString(type))
        {
            var values = StringsFor(index, rows);
            group.ReadAsync(field, values.AsMemory(0, rows), null, cancellationToken).AsTask().GetAwaiter().GetResult();
            return;
        }

        var numbers = NumbersFor(index, rows);
        switch (Type.GetTypeCode(type))
        {
            case TypeCode.Double: Read<double>(group, field, numbers, rows, v => v, cancellationToken); break;
            case TypeCode.Single: Read<float>(group, field, numbers, rows, v => v, cancellationToken); break;
            case TypeCode.Decimal: Read<decimal>(group, field, numbers, rows, v => (double)v, cancellationToken); break;
            case TypeCode.SByte: Read<sbyte>(group, field, numbers, rows, v => v, cancellationToken); break;
            case TypeCode.Byte: Read<byte>(group, field, numbers, rows, v => v, cancellationToken); break;
            case TypeCode.Int16: Read<short>(group, field, numbers, rows, v => v, cancellationToken); break;
            case TypeCode.UInt16: Read<ushort>(group, field, numbers, rows, v => v, cancellationToken); break;
            case TypeCode.Int32: Read<int>(group, field, numbers, rows, v => v, cancellationToken); break;
            case TypeCode.UInt32: Read<uint>(group, field, numbers, rows, v => v, cancellationToken); break;
            case TypeCode.Int64: Read<long>(group, field, numbers, rows, v => v, cancellationToken); break;
            case TypeCode.UInt64: Read<ulong>(group, field, numbers, rows, v => v, cancellationToken); break;
            case TypeCode.Boolean: Read<bool>(group, field, numbers, rows, v => v ? 1 : 0, cancellationToken); break;
            case TypeCode.DateTime:
                Read<DateTime>(group, field, numbers, rows, v => TextCellParser.ToUnixSeconds(v.Kind == DateTimeKind.Unspecified ? new DateTimeOffset(v, TimeSpan.Zero) : new DateTimeOffset(v.ToUniversalTime(), TimeSpan.Zero)), cancellationToken);
                break;
            default:
                if (type == typeof(DateTimeOffset))
                {
                    Read<DateTimeOffset>(group, field, numbers, rows, TextCellParser.ToUnixSeconds, cancellationToken);
                }
                else if (type == typeof(DateOnly))
                {
                    Read<DateOnly>(group, field, numbers, rows, v => TextCellParser.ToUnixSeconds(new DateTimeOffset(v.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero)), cancellationToken);
                }
                else
                {
                    throw new InvalidOperationException($"Field {field.Name} of type {type} has no kind; it should have been refused when the schema was read.");
                }

                break;
        }
    }

    private static void Read<T>(ParquetRowGroupReader group, DataField field, double[] numbers, int rows, Func<T, double> convert, CancellationToken cancellationToken)
        where T : struct
    {
        var values = new T?[rows];
        group.ReadAsync(field, values.AsMemory(), null, cancellationToken).AsTask().GetAwaiter().GetResult();
        for (var i = 0; i < rows; i++)
        {
            numbers[i] = values[i] is { } value ? convert(value) : double.NaN;
        }
    }

    // Parquet.Net 6 describes string fields as ReadOnlyMemory<char>; earlier versions as string.
    private static bool IsString(Type type) => type == typeof(string) || type == typeof(ReadOnlyMemory<char>);

    private ColumnKind NaturalKind(DataField field, IReadOnlyList<Field> topLevel)
    {
        if (field.IsArray || !topLevel.Contains(field))
        {
            throw DataErrors.File(Source, $"the field '{field.Path}' is nested or repeated; only flat columns can be read. Ignore it with an override.");
        }

        var type = field.ClrType;
        return Type.GetTypeCode(type) switch
        {
            TypeCode.Double or TypeCode.Single or TypeCode.Decimal or TypeCode.SByte or TypeCode.Byte or TypeCode.Int16
                or TypeCode.UInt16 or TypeCode.Int32 or TypeCode.UInt32 or TypeCode.Int64 or TypeCode.UInt64 => ColumnKind.Numeric,
            TypeCode.Boolean => ColumnKind.Boolean,
            TypeCode.DateTime => ColumnKind.DateTime,
            _ when IsString(type) => ColumnKind.Text,
            _ when type == typeof(DateTimeOffset) || type == typeof(DateOnly) => ColumnKind.DateTime,
            _ => throw DataErrors.File(Source, $"the field '{field.Name}' has the type {type.Name}, which no column kind holds; ignore it with an override."),
        };
    }
}
