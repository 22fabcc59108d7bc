using EdgePlatform.Contracts;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EdgePlatform.Training;

/// <summary>
/// An in-memory <see cref="IDataView"/> with one column per feature — <c>Single</c> for a number,
/// text (<c>ReadOnlyMemory&lt;char&gt;</c>) for a categorical or text value — and an optional
/// label: boolean for a binary task, a key into the classes (annotated with their names) for
/// multiclass, a <c>Single</c> for regression. ML.NET's own in-memory loader needs a compile-time row type, but feature columns
/// are only known at run time, and each must stay its own column so that the exported ONNX graph
/// has one input per event field: a float input for a number, a string input for text.
/// </summary>
internal sealed class ColumnarDataView : IDataView
{
    // Per feature column, one of the two: numbers, or text (a missing string is empty, as the device binds it).
    private readonly float[]?[] _features;
    private readonly ReadOnlyMemory<char>[]?[] _texts;
    private readonly bool[]? _labels;
    private readonly uint[]? _keys;
    private readonly float[]? _targets;
    private readonly int _rowCount;

    private ColumnarDataView(
        IReadOnlyList<string> featureColumns, float[]?[] features, ReadOnlyMemory<char>[]?[] texts, string? labelColumn, bool[]? labels, int rowCount, uint[]? keys = null, IReadOnlyList<string>? classes = null, float[]? targets = null)
    {
        var builder = new DataViewSchema.Builder();
        for (var i = 0; i < featureColumns.Count; i++)
        {
            builder.AddColumn(featureColumns[i], features[i] is null ? TextDataViewType.Instance : NumberDataViewType.Single);
        }

        if (labelColumn is not null && keys is not null && classes is not null)
        {
            // The class names travel as the key's values, so a model's PredictedLabel maps back to them.
            var names = new VBuffer<ReadOnlyMemory<char>>(classes.Count, [.. classes.Select(c => c.AsMemory())]);
            var annotations = new DataViewSchema.Annotations.Builder();
            annotations.Add("KeyValues", new VectorDataViewType(TextDataViewType.Instance, classes.Count), (ref VBuffer<ReadOnlyMemory<char>> value) => names.CopyTo(ref value));
            builder.AddColumn(labelColumn, new KeyDataViewType(typeof(uint), classes.Count), annotations.ToAnnotations());
        }
        else if (labelColumn is not null)
        {
            builder.AddColumn(labelColumn, targets is not null ? NumberDataViewType.Single : BooleanDataViewType.Instance);
        }

        Schema = builder.ToSchema();
        _features = features;
        _texts = texts;
        _labels = labels;
        _keys = keys;
        _targets = targets;
        _rowCount = rowCount;
    }

    public DataViewSchema Schema { get; }

    public bool CanShuffle => false;

    public static ColumnarDataView FromRows(TabularDataset data, IReadOnlyList<string> featureColumns, IReadOnlyList<int> rows, bool includeLabel)
    {
        var indexes = featureColumns.Select(data.IndexOfFeature).ToArray();
        var features = indexes
            .Select(index => data.FeatureValues(index) is { } source ? rows.Select(r => source[r]).ToArray() : null)
            .ToArray();
        var texts = indexes
            .Select(index => data.StringValues(index) is { } source ? rows.Select(r => MissingAsEmpty(source[r])).ToArray() : null)
            .ToArray();
        if (!includeLabel)
        {
            return new ColumnarDataView(featureColumns, features, texts, null, null, rows.Count);
        }

        return data.Task switch
        {
            // Keys count from 1; 0 is ML.NET's missing key.
            ModelTasks.MulticlassClassification => new ColumnarDataView(
                featureColumns, features, texts, data.LabelColumn, null, rows.Count, keys: [.. rows.Select(r => (uint)data.GetClass(r) + 1)], classes: data.Classes),
            ModelTasks.Regression => new ColumnarDataView(featureColumns, features, texts, data.LabelColumn, null, rows.Count, targets: [.. rows.Select(data.GetTarget)]),
            _ => new ColumnarDataView(featureColumns, features, texts, data.LabelColumn, [.. rows.Select(data.GetLabel)], rows.Count),
        };
    }

    public static ColumnarDataView FromFeatureRows(
        IReadOnlyList<string> featureColumns, IReadOnlyList<string> stringColumns, IReadOnlyList<IReadOnlyDictionary<string, float>> rows, IReadOnlyList<IReadOnlyDictionary<string, string?>>? strings)
    {
        if (strings is not null && strings.Count != rows.Count)
        {
            throw new ArgumentException($"{strings.Count} rows of strings for {rows.Count} rows of numbers.", nameof(strings));
        }

        var isString = featureColumns.Select(c => stringColumns.Contains(c, StringComparer.Ordinal)).ToArray();
        var features = featureColumns
            .Select((column, c) => isString[c] ? null : rows.Select((row, index) => row.TryGetValue(column, out var value)
                ? value
                : throw new ArgumentException($"Row {index} has no value for feature '{column}'; the model needs: {string.Join(", ", featureColumns)}.", nameof(rows)))
                .ToArray())
            .ToArray();
        var texts = featureColumns
            .Select((column, c) => isString[c] ? rows.Select((_, index) => MissingAsEmpty(strings?[index].GetValueOrDefault(column))).ToArray() : null)
            .ToArray();
        return new ColumnarDataView(featureColumns, features, texts, null, null, rows.Count);
    }

    /// <summary>
    /// A missing categorical or text value is the empty string, in training and on the device alike:
    /// one-hot and hashed encodings map it to no category (all zeros), text featurizers to no n-grams.
    /// </summary>
    internal static ReadOnlyMemory<char> MissingAsEmpty(string? value) => (value ?? string.Empty).AsMemory();

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

            if (column.Index < view._features.Length && view._features[column.Index] is { } values)
            {
                ValueGetter<float> getter = (ref float value) => value = values[_position];
                return getter as ValueGetter<TValue>
                    ?? throw new InvalidOperationException($"Column '{column.Name}' holds float values, not {typeof(TValue).Name}.");
            }

            if (column.Index < view._texts.Length && view._texts[column.Index] is { } texts)
            {
                ValueGetter<ReadOnlyMemory<char>> getter = (ref ReadOnlyMemory<char> value) => value = texts[_position];
                return getter as ValueGetter<TValue>
                    ?? throw new InvalidOperationException($"Column '{column.Name}' holds text values, not {typeof(TValue).Name}.");
            }

            if (view._keys is { } keys)
            {
                ValueGetter<uint> keyGetter = (ref uint value) => value = keys[_position];
                return keyGetter as ValueGetter<TValue>
                    ?? throw new InvalidOperationException($"Column '{column.Name}' holds key values, not {typeof(TValue).Name}.");
            }

            if (view._targets is { } targets)
            {
                ValueGetter<float> targetGetter = (ref float value) => value = targets[_position];
                return targetGetter as ValueGetter<TValue>
                    ?? throw new InvalidOperationException($"Column '{column.Name}' holds float values, not {typeof(TValue).Name}.");
            }

            var labels = view._labels!;
            ValueGetter<bool> labelGetter = (ref bool value) => value = labels[_position];
            return labelGetter as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' holds boolean values, not {typeof(TValue).Name}.");
        }
    }
}
