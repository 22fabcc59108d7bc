using Microsoft.ML;
using Microsoft.ML.Data;

namespace EdgePlatform.Training;

/// <summary>
/// An in-memory <see cref="IDataView"/> with one <c>Single</c> column per feature and an
/// optional boolean label. ML.NET's own in-memory loader needs a compile-time row type, but
/// feature columns are only known at run time, and each must stay its own column so that the
/// exported ONNX graph has one input per event field.
/// </summary>
internal sealed class ColumnarDataView : IDataView
{
    private readonly float[][] _features;
    private readonly bool[]? _labels;
    private readonly int _rowCount;

    private ColumnarDataView(IReadOnlyList<string> featureColumns, float[][] features, string? labelColumn, bool[]? labels, int rowCount)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var column in featureColumns)
        {
            builder.AddColumn(column, NumberDataViewType.Single);
        }

        if (labelColumn is not null)
        {
            builder.AddColumn(labelColumn, BooleanDataViewType.Instance);
        }

        Schema = builder.ToSchema();
        _features = features;
        _labels = labels;
        _rowCount = rowCount;
    }

    public DataViewSchema Schema { get; }

    public bool CanShuffle => false;

    public static ColumnarDataView FromRows(TabularDataset data, IReadOnlyList<string> featureColumns, IReadOnlyList<int> rows, bool includeLabel)
    {
        var features = featureColumns
            .Select(column =>
            {
                var source = data.FeatureValues(data.IndexOfFeature(column));
                return rows.Select(r => source[r]).ToArray();
            })
            .ToArray();
        var labels = includeLabel ? rows.Select(data.GetLabel).ToArray() : null;
        return new ColumnarDataView(featureColumns, features, includeLabel ? data.LabelColumn : null, labels, rows.Count);
    }

    public static ColumnarDataView FromFeatureRows(IReadOnlyList<string> featureColumns, IReadOnlyList<IReadOnlyDictionary<string, float>> rows)
    {
        var features = featureColumns
            .Select(column => rows.Select((row, index) => row.TryGetValue(column, out var value)
                ? value
                : throw new ArgumentException($"Row {index} has no value for feature '{column}'; the model needs: {string.Join(", ", featureColumns)}.", nameof(rows)))
                .ToArray())
            .ToArray();
        return new ColumnarDataView(featureColumns, features, null, null, rows.Count);
    }

    public long? GetRowCount() => _rowCount;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var active = new bool[Schema.Count];
        foreach (var column in columnsNeeded)
        {
            active[column.Index] = true;
        }

        return new Cursor(this, active);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor(ColumnarDataView view, bool[] active) : DataViewRowCursor
    {
        private long _position = -1;

        public override DataViewSchema Schema => view.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool MoveNext()
        {
            if (_position + 1 < view._rowCount)
            {
                _position++;
                return true;
            }

            _position = view._rowCount;
            return false;
        }

        public override bool IsColumnActive(DataViewSchema.Column column) => active[column.Index];

        public override ValueGetter<DataViewRowId> GetIdGetter() =>
            (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!IsColumnActive(column))
            {
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was opened.");
            }

            if (column.Index < view._features.Length)
            {
                var values = view._features[column.Index];
                ValueGetter<float> getter = (ref float value) => value = values[_position];
                return getter as ValueGetter<TValue>
                    ?? throw new InvalidOperationException($"Column '{column.Name}' holds float values, not {typeof(TValue).Name}.");
            }

            var labels = view._labels!;
            ValueGetter<bool> labelGetter = (ref bool value) => value = labels[_position];
            return labelGetter as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' holds boolean values, not {typeof(TValue).Name}.");
        }
    }
}
