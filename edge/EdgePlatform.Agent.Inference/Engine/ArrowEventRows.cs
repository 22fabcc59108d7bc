using Apache.Arrow;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Inference.Engine;

/// <summary>
/// The rows of an Arrow record batch as events, as any Arrow implementation writes them: one
/// column per event field, found by name (a producer may send more columns, in any order).
/// A numeric field reads integers of every width, half, float and double; a categorical or text
/// field reads utf8, large_utf8 and utf8view; either may be dictionary-encoded with indices of any
/// integer width, or of Arrow's null type. The <see cref="EventFields.CorrelationId"/> column, if
/// any, holds strings or numbers of those kinds. A column the agent cannot read is refused with
/// its name and Arrow type, never read as null: the id and experiment key columns when the rows
/// are made, a field's column for every row a model binds.
/// </summary>
public sealed class ArrowEventRows : IEventRows
{
    private readonly RecordBatch _batch;
    private readonly ArrowEventColumn? _correlationIds;

    // The experiment key column, checked up front when the caller names it, else found on first use.
    private string? _keyField;
    private ArrowEventColumn? _keyColumn;

    // The scoring thread binds every row of a batch with the same model, so the columns of a
    // field list are resolved once; a shadow or split experiment alternates two models' lists,
    // and both are kept. Readers are kept by column, so what a dictionary reader has decoded
    // serves every list that names its column.
    private readonly ResolvedColumns _numbers = new();
    private readonly ResolvedColumns _strings = new();
    private readonly Dictionary<string, ArrowEventColumn?> _readers = new(StringComparer.Ordinal);

    /// <param name="batch">The events, one row each.</param>
    /// <param name="keyField">The field whose value assigns an event to an experiment arm, checked now as the id column is; null when none is in use.</param>
    /// <exception cref="EventBindingException">The id or key column is of a type the agent cannot read as an identifier.</exception>
    public ArrowEventRows(RecordBatch batch, string? keyField = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        _batch = batch;
        _correlationIds = IdentifierColumn(EventFields.CorrelationId, "an event id");
        if (keyField is not null && !IsCorrelationId(keyField))
        {
            _keyColumn = IdentifierColumn(keyField, "an experiment key");
            _keyField = keyField;
        }
    }

    public int RowCount => _batch.Length;

    public string? Bind(int row, IReadOnlyList<string> fields, Span<float> features)
    {
        ArgumentNullException.ThrowIfNull(fields);
        var columns = _numbers.For(fields, this, numeric: true);
        for (var i = 0; i < columns.Length; i++)
        {
            features[i] = columns[i] switch
            {
                null => throw new EventBindingException($"field '{fields[i]}' is missing: the record batch has no such column"),
                var column when column.IsNull(row) => throw new EventBindingException($"field '{fields[i]}' is null"),
                var column => Finite(column.Number(row), fields[i]),
            };
        }

        return CorrelationId(row);
    }

    public string? Bind(int row, EventBinder binder, Span<float> features, Span<string> strings)
    {
        ArgumentNullException.ThrowIfNull(binder);
        var stringFields = binder.StringFields;
        var stringColumns = _strings.For(stringFields, this, numeric: false);
        for (var i = 0; i < stringColumns.Length; i++)
        {
            strings[i] = stringColumns[i] is { } column && !column.IsNull(row) ? column.Text(row) : string.Empty;
        }

        var fields = binder.Fields;
        var columns = _numbers.For(fields, this, numeric: true);
        for (var i = 0; i < columns.Length; i++)
        {
            features[i] = columns[i] switch
            {
                var column when binder.AcceptsMissing(i) && (column is null || column.IsNull(row)) => float.NaN,
                null => throw new EventBindingException($"field '{fields[i]}' is missing: the record batch has no such column"),
                var column when column.IsNull(row) => throw new EventBindingException($"field '{fields[i]}' is null"),
                var column => Finite(column.Number(row), fields[i]),
            };
        }

        return CorrelationId(row);
    }

    public bool TryHashKey(int row, string field, out uint hash)
    {
        hash = 0;
        ArrowEventColumn? column;
        if (IsCorrelationId(field))
        {
            column = _correlationIds;
        }
        else
        {
            if (!string.Equals(field, _keyField, StringComparison.Ordinal))
            {
                // The policy changed after the batch was checked: a column it cannot read sends
                // the batch to the control arm, as an event without the key goes.
                _keyColumn = ColumnOrNull(field) is { } array ? Reader(field, array) : null;
                _keyField = field;
            }

            column = _keyColumn;
        }

        if (column is null || column.IsNull(row))
        {
            return false;
        }

        hash = column.Hash(row);
        return true;
    }

    private string? CorrelationId(int row) =>
        _correlationIds is null || _correlationIds.IsNull(row) ? null : _correlationIds.Id(row);

    private ArrowEventColumn? IdentifierColumn(string field, string role)
    {
        if (ColumnOrNull(field) is not { } array)
        {
            return null;
        }

        // Every column the agent reads holds text or numbers, and either makes an identifier.
        return Reader(field, array) ?? throw new EventBindingException(
            $"column '{field}' is a column of {ArrowEventColumn.Describe(array.Data.DataType)}, which the agent cannot read as {role}: "
            + "send strings (utf8, large_utf8, utf8view, dictionary-encoded or not) or numbers");
    }

    private ArrowEventColumn? Reader(string name, IArrowArray array)
    {
        if (!_readers.TryGetValue(name, out var reader))
        {
            reader = ArrowEventColumn.For(name, array);
            _readers[name] = reader;
        }

        return reader;
    }

    private IArrowArray? ColumnOrNull(string name)
    {
        var index = _batch.Schema.GetFieldIndex(name);
        return index < 0 ? null : _batch.Column(index);
    }

    private static bool IsCorrelationId(string field) => string.Equals(field, EventFields.CorrelationId, StringComparison.Ordinal);

    private static float Finite(float value, string field) =>
        float.IsFinite(value) ? value : throw new EventBindingException($"field '{field}' is not finite as a 32-bit float");

    /// <summary>Readers for the columns of the last two field lists, and why they cannot be read, if so.</summary>
    private sealed class ResolvedColumns
    {
        private Resolution? _latest;
        private Resolution? _previous;

        /// <summary>One reader per field, null where the batch has no such column.</summary>
        /// <exception cref="EventBindingException">A field's column is of a type that cannot be read as the field's kind.</exception>
        public ArrowEventColumn?[] For(IReadOnlyList<string> fields, ArrowEventRows rows, bool numeric)
        {
            if (!ReferenceEquals(fields, _latest?.Fields))
            {
                (_latest, _previous) = ReferenceEquals(fields, _previous?.Fields)
                    ? (_previous, _latest)
                    : (Resolve(fields, rows, numeric), _latest);
            }

            return _latest!.Problem is null ? _latest.Columns : throw new EventBindingException(_latest.Problem);
        }

        private static Resolution Resolve(IReadOnlyList<string> fields, ArrowEventRows rows, bool numeric)
        {
            var columns = new ArrowEventColumn?[fields.Count];
            for (var i = 0; i < columns.Length; i++)
            {
                if (rows.ColumnOrNull(fields[i]) is not { } array)
                {
                    continue;
                }

                columns[i] = rows.Reader(fields[i], array);
                if (columns[i] is not { } column || (numeric ? !column.HoldsNumbers : !column.HoldsText))
                {
                    return new Resolution(fields, columns,
                        $"field '{fields[i]}' is a column of {ArrowEventColumn.Describe(array.Data.DataType)}, expected {(numeric ? "a number" : "a string")}");
                }
            }

            return new Resolution(fields, columns, null);
        }

        private sealed record Resolution(IReadOnlyList<string> Fields, ArrowEventColumn?[] Columns, string? Problem);
    }
}
