using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;

namespace EdgePlatform.Training.Data;

/// <summary>
/// Writes batches as an Arrow IPC file. Like the CSV writer the bytes depend only on the schema
/// and the rows: record batches always hold <see cref="RowsPerRecordBatch"/> rows (the last
/// fewer) whatever batches come in. Numeric columns are float64, booleans boolean, date-times
/// UTC timestamps in microseconds, categorical and text columns UTF-8 strings; each field's
/// metadata records its kind (and a categorical's declared categories), which the reader
/// honours, so a written file reads back with the same kinds.
/// </summary>
internal static class ArrowTabularWriter
{
    public const int RowsPerRecordBatch = 65_536;
    public const string KindKey = "edgeplatform.kind";
    public const string CategoriesKey = "edgeplatform.categories";

    public static long Write(DataSchema schema, IEnumerable<DataBatch> batches, Stream destination, CancellationToken cancellationToken)
    {
        var arrowSchema = ToArrow(schema);
        using var writer = new ArrowFileWriter(destination, arrowSchema, leaveOpen: true);
        var builders = new Builders(schema);
        long rows = 0;
        foreach (var batch in batches)
        {
            cancellationToken.ThrowIfCancellationRequested();
            for (var row = 0; row < batch.RowCount; row++)
            {
                builders.Append(batch, row);
                if (builders.Count == RowsPerRecordBatch)
                {
                    WriteBatch(writer, arrowSchema, builders);
                }
            }

            rows += batch.RowCount;
        }

        if (builders.Count > 0 || rows == 0)
        {
            WriteBatch(writer, arrowSchema, builders);
        }

        writer.WriteEnd();
        return rows;
    }

    private static void WriteBatch(ArrowFileWriter writer, Schema schema, Builders builders)
    {
        var count = builders.Count;
        using var recordBatch = new RecordBatch(schema, builders.Build(), count);
        writer.WriteRecordBatch(recordBatch);
    }

    private static Schema ToArrow(DataSchema schema)
    {
        var builder = new Schema.Builder();
        foreach (var column in schema.Columns)
        {
            IArrowType type = column.Kind switch
            {
                ColumnKind.Numeric => DoubleType.Default,
                ColumnKind.Boolean => BooleanType.Default,
                ColumnKind.DateTime => new TimestampType(TimeUnit.Microsecond, "UTC"),
                _ => StringType.Default,
            };
            var metadata = new Dictionary<string, string> { [KindKey] = column.Kind.Name() };
            if (column.Categories is { } categories)
            {
                metadata[CategoriesKey] = JsonSerializer.Serialize(categories, ArrowMetadataJson.Default.IReadOnlyListString);
            }

            builder.Field(f => f.Name(column.Name).DataType(type).Nullable(true).Metadata(metadata));
        }

        return builder.Build();
    }

    private sealed class Builders
    {
        private readonly DataSchema _schema;
        private object[] _builders;

        public Builders(DataSchema schema)
        {
            _schema = schema;
            _builders = Create();
        }

        public int Count { get; private set; }

        public void Append(DataBatch batch, int row)
        {
            for (var c = 0; c < _builders.Length; c++)
            {
                switch (_builders[c])
                {
                    case DoubleArray.Builder numbers:
                        var number = batch.Numbers[c]![row];
                        if (double.IsNaN(number))
                        {
                            numbers.AppendNull();
                        }
                        else
                        {
                            numbers.Append(number);
                        }

                        break;
                    case BooleanArray.Builder flags:
                        var flag = batch.Numbers[c]![row];
                        if (double.IsNaN(flag))
                        {
                            flags.AppendNull();
                        }
                        else
                        {
                            flags.Append(flag != 0);
                        }

                        break;
                    case TimestampArray.Builder times:
                        var seconds = batch.Numbers[c]![row];
                        if (double.IsNaN(seconds))
                        {
                            times.AppendNull();
                        }
                        else
                        {
                            times.Append(DateTimeOffset.UnixEpoch.AddTicks((long)Math.Round(seconds * 1e6) * 10));
                        }

                        break;
                    case StringArray.Builder strings:
                        if (batch.Strings[c]![row] is { } text)
                        {
                            strings.Append(text);
                        }
                        else
                        {
                            strings.AppendNull();
                        }

                        break;
                    default:
                        throw new InvalidOperationException("Unexpected builder.");
                }
            }

            Count++;
        }

        public IArrowArray[] Build()
        {
            var arrays = _builders.Select(b => b switch
            {
                DoubleArray.Builder x => (IArrowArray)x.Build(),
                BooleanArray.Builder x => x.Build(),
                TimestampArray.Builder x => x.Build(),
                StringArray.Builder x => x.Build(),
                _ => throw new InvalidOperationException("Unexpected builder."),
            }).ToArray();
            _builders = Create();
            Count = 0;
            return arrays;
        }

        private object[] Create() =>
        [
            .. _schema.Columns.Select(c => c.Kind switch
            {
                ColumnKind.Numeric => (object)new DoubleArray.Builder(),
                ColumnKind.Boolean => new BooleanArray.Builder(),
                ColumnKind.DateTime => new TimestampArray.Builder(new TimestampType(TimeUnit.Microsecond, "UTC")),
                _ => new StringArray.Builder(),
            }),
        ];
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class ArrowMetadataJson : System.Text.Json.Serialization.JsonSerializerContext;
