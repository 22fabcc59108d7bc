using Apache.Arrow;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Inference.Engine;

/// <summary>
/// The rows of an Arrow record batch as events: one column per event field (float, double or
/// integer for a numeric field; utf8, or utf8 dictionary-encoded, for a categorical or text
/// field, where a missing column or a null is the empty string), and optionally an <see cref="EventFields.CorrelationId"/> column of strings or
/// integers. Columns are found by name, so a producer may send more of them, in any order.
/// </summary>
public sealed class ArrowEventRows : IEventRows
{
    private readonly RecordBatch _batch;
    private readonly IArrowArray? _correlationIds;

    // The scoring thread binds every row of a batch with the same model, so the column lookup
    // for a field list is done once and reused until the list changes (a swap, the other arm).
    private IReadOnlyList<string>? _cachedFields;
    private IArrowArray?[] _cachedColumns = [];
    private IReadOnlyList<string>? _cachedStringFields;
    private IArrowArray?[] _cachedStringColumns = [];

    public ArrowEventRows(RecordBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        _batch = batch;
        _correlationIds = ColumnOrNull(EventFields.CorrelationId);
    }

    public int RowCount => _batch.Length;

    public string? Bind(int row, IReadOnlyList<string> fields, Span<float> features)
    {
        ArgumentNullException.ThrowIfNull(fields);
        var columns = ColumnsFor(fields);
        for (var i = 0; i < columns.Length; i++)
        {
            features[i] = Number(columns[i], row, fields[i]);
        }

        return CorrelationId(row);
    }

    private static float Number(IArrowArray? column, int row, string field) => column switch
    {
        null => throw new EventBindingException($"field '{field}' is missing: the record batch has no such column"),
        _ when column.IsNull(row) => throw new EventBindingException($"field '{field}' is null"),
        FloatArray values => Finite(values.GetValue(row)!.Value, field),
        DoubleArray values => Finite((float)values.GetValue(row)!.Value, field),
        Int64Array values => values.GetValue(row)!.Value,
        Int32Array values => values.GetValue(row)!.Value,
        _ => throw new EventBindingException($"field '{field}' is a column of {column.Data.DataType.Name}, expected a number"),
    };

    public string? Bind(int row, EventBinder binder, Span<float> features, Span<string> strings)
    {
        ArgumentNullException.ThrowIfNull(binder);
        var stringFields = binder.StringFields;
        if (!ReferenceEquals(stringFields, _cachedStringFields))
        {
            _cachedStringColumns = [.. stringFields.Select(ColumnOrNull)];
            _cachedStringFields = stringFields;
        }

        for (var i = 0; i < _cachedStringColumns.Length; i++)
        {
            strings[i] = _cachedStringColumns[i] switch
            {
                null => string.Empty,
                var column when column.IsNull(row) => string.Empty,
                StringArray values => values.GetString(row) ?? string.Empty,
                DictionaryArray { Dictionary: StringArray dictionary } encoded => dictionary.GetString(DictionaryIndex(encoded.Indices, row)) ?? string.Empty,
                var column => throw new EventBindingException(
                    $"field '{stringFields[i]}' is a column of {column.Data.DataType.Name}, expected a string"),
            };
        }

        var fields = binder.Fields;
        var columns = ColumnsFor(fields);
        for (var i = 0; i < columns.Length; i++)
        {
            features[i] = binder.AcceptsMissing(i) && (columns[i] is null || columns[i]!.IsNull(row))
                ? float.NaN
                : Number(columns[i], row, fields[i]);
        }

        return CorrelationId(row);
    }

    private static int DictionaryIndex(IArrowArray indices, int row) => indices switch
    {
        Int8Array values => values.GetValue(row)!.Value,
        Int16Array values => values.GetValue(row)!.Value,
        Int32Array values => values.GetValue(row)!.Value,
        Int64Array values => checked((int)values.GetValue(row)!.Value),
        UInt8Array values => values.GetValue(row)!.Value,
        UInt16Array values => values.GetValue(row)!.Value,
        UInt32Array values => checked((int)values.GetValue(row)!.Value),
        _ => throw new EventBindingException($"a dictionary-encoded column has {indices.Data.DataType.Name} indices, expected integers"),
    };

    public bool TryHashKey(int row, string field, out uint hash)
    {
        hash = 0;
        var column = string.Equals(field, EventFields.CorrelationId, StringComparison.Ordinal) ? _correlationIds : ColumnOrNull(field);
        if (column is null || column.IsNull(row))
        {
            return false;
        }

        switch (column)
        {
            case StringArray strings:
                hash = ArmBuckets.Hash(strings.GetBytes(row));
                return true;
            case Int64Array or Int32Array:
                hash = ArmBuckets.Hash(System.Text.Encoding.UTF8.GetBytes(CorrelationIdOf(column, row)!));
                return true;
            default:
                return false;
        }
    }

    private string? CorrelationId(int row) =>
        _correlationIds is null || _correlationIds.IsNull(row) ? null : CorrelationIdOf(_correlationIds, row);

    private static string? CorrelationIdOf(IArrowArray column, int row) => column switch
    {
        StringArray strings => strings.GetString(row),
        Int64Array longs => longs.GetValue(row)!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Int32Array ints => ints.GetValue(row)!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => null,
    };

    private IArrowArray?[] ColumnsFor(IReadOnlyList<string> fields)
    {
        if (!ReferenceEquals(fields, _cachedFields))
        {
            var columns = new IArrowArray?[fields.Count];
            for (var i = 0; i < columns.Length; i++)
            {
                columns[i] = ColumnOrNull(fields[i]);
            }

            _cachedColumns = columns;
            _cachedFields = fields;
        }

        return _cachedColumns;
    }

    private IArrowArray? ColumnOrNull(string name)
    {
        var index = _batch.Schema.GetFieldIndex(name);
        return index < 0 ? null : _batch.Column(index);
    }

    private static float Finite(float value, string field) =>
        float.IsFinite(value) ? value : throw new EventBindingException($"field '{field}' is not finite as a 32-bit float");
}
