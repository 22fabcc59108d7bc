using System.Globalization;
using System.Numerics;
using Apache.Arrow;
using Apache.Arrow.Types;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Inference.Engine;

/// <summary>
/// One column of an Arrow record batch read as event values. The reader is chosen once per batch
/// from the column's type, so binding a row costs a virtual call and an index: no type test, and
/// nothing allocated for a number or for a dictionary-encoded string after its first use.
/// Used only by the engine's scoring thread, as <see cref="ArrowEventRows"/> is.
/// </summary>
internal abstract class ArrowEventColumn
{
    // Long enough for any integer, and for the shortest round-trip text of a double ("-1.7976931348623157E+308").
    private const int NumberTextLimit = 32;

    /// <summary>Whether <see cref="Number"/> reads the column: integers of every width, half, float and double.</summary>
    public abstract bool HoldsNumbers { get; }

    /// <summary>Whether <see cref="Text"/> reads the column: utf8, large_utf8 and utf8view.</summary>
    public abstract bool HoldsText { get; }

    public abstract bool IsNull(int row);

    /// <summary>The row's value as a model input; call only when <see cref="HoldsNumbers"/> and the row is not null.</summary>
    public virtual float Number(int row) => throw new InvalidOperationException("the column holds no numbers");

    /// <summary>The row's value as a categorical or text field; call only when <see cref="HoldsText"/> and the row is not null.</summary>
    public virtual string Text(int row) => throw new InvalidOperationException("the column holds no text");

    /// <summary>The row's value as an event id: text as it is, a number as invariant-culture text. The row must not be null.</summary>
    public abstract string Id(int row);

    /// <summary>The row's <see cref="Id"/> hashed by <see cref="ArmBuckets.Hash(ReadOnlySpan{byte})"/> from its UTF-8 bytes. The row must not be null.</summary>
    public abstract uint Hash(int row);

    /// <summary>
    /// A reader for <paramref name="column"/> (named <paramref name="name"/> in messages), or null
    /// when the agent cannot read its type: booleans (the event binder does not convert them
    /// either), temporal, decimal, binary, nested and union types.
    /// </summary>
    public static ArrowEventColumn? For(string name, IArrowArray column) => column switch
    {
        FloatArray values => new Numbers<float>(values),
        DoubleArray values => new Numbers<double>(values),
        HalfFloatArray values => new Numbers<Half>(values),
        Int8Array values => new Numbers<sbyte>(values),
        Int16Array values => new Numbers<short>(values),
        Int32Array values => new Numbers<int>(values),
        Int64Array values => new Numbers<long>(values),
        UInt8Array values => new Numbers<byte>(values),
        UInt16Array values => new Numbers<ushort>(values),
        UInt32Array values => new Numbers<uint>(values),
        UInt64Array values => new Numbers<ulong>(values),
        StringArray values => new Utf8(values),
        LargeStringArray values => new LargeUtf8(values),
        StringViewArray values => new Utf8View(values),
        NullArray => AllNull.Instance,
        DictionaryArray encoded when For(name, encoded.Dictionary) is { } dictionary => encoded.Indices switch
        {
            Int8Array indices => new DictionaryEncoded<sbyte>(name, encoded, indices, dictionary),
            Int16Array indices => new DictionaryEncoded<short>(name, encoded, indices, dictionary),
            Int32Array indices => new DictionaryEncoded<int>(name, encoded, indices, dictionary),
            Int64Array indices => new DictionaryEncoded<long>(name, encoded, indices, dictionary),
            UInt8Array indices => new DictionaryEncoded<byte>(name, encoded, indices, dictionary),
            UInt16Array indices => new DictionaryEncoded<ushort>(name, encoded, indices, dictionary),
            UInt32Array indices => new DictionaryEncoded<uint>(name, encoded, indices, dictionary),
            UInt64Array indices => new DictionaryEncoded<ulong>(name, encoded, indices, dictionary),
            _ => null,
        },
        _ => null,
    };

    /// <summary>The column's Arrow type as a dead letter names it: <c>timestamp</c>, <c>dictionary&lt;int32, bool&gt;</c>.</summary>
    public static string Describe(IArrowType type) => type switch
    {
        DictionaryType dictionary => $"dictionary<{Describe(dictionary.IndexType)}, {Describe(dictionary.ValueType)}>",
        _ => type.Name,
    };

    private sealed class Numbers<T>(PrimitiveArray<T> values) : ArrowEventColumn
        where T : struct, INumberBase<T>
    {
        public override bool HoldsNumbers => true;

        public override bool HoldsText => false;

        public override bool IsNull(int row) => values.IsNull(row);

        public override float Number(int row) => float.CreateTruncating(values.Values[row]);

        public override string Id(int row) => values.Values[row].ToString(null, CultureInfo.InvariantCulture);

        public override uint Hash(int row)
        {
            Span<byte> text = stackalloc byte[NumberTextLimit];
            return values.Values[row].TryFormat(text, out var written, default, CultureInfo.InvariantCulture)
                ? ArmBuckets.Hash(text[..written])
                : ArmBuckets.Hash(Id(row));
        }
    }

    private abstract class Strings : ArrowEventColumn
    {
        public sealed override bool HoldsNumbers => false;

        public sealed override bool HoldsText => true;

        public sealed override string Id(int row) => Text(row);
    }

    private sealed class Utf8(StringArray values) : Strings
    {
        public override bool IsNull(int row) => values.IsNull(row);

        public override string Text(int row) => values.GetString(row) ?? string.Empty;

        public override uint Hash(int row) => ArmBuckets.Hash(values.GetBytes(row));
    }

    private sealed class LargeUtf8(LargeStringArray values) : Strings
    {
        public override bool IsNull(int row) => values.IsNull(row);

        public override string Text(int row) => values.GetString(row) ?? string.Empty;

        public override uint Hash(int row) => ArmBuckets.Hash(values.GetBytes(row));
    }

    private sealed class Utf8View(StringViewArray values) : Strings
    {
        public override bool IsNull(int row) => values.IsNull(row);

        public override string Text(int row) => values.GetString(row) ?? string.Empty;

        public override uint Hash(int row) => ArmBuckets.Hash(values.GetBytes(row));
    }

    /// <summary>Arrow's null type: every row null, whatever field it stands for.</summary>
    private sealed class AllNull : ArrowEventColumn
    {
        public static readonly AllNull Instance = new();

        public override bool HoldsNumbers => true;

        public override bool HoldsText => true;

        public override bool IsNull(int row) => true;

        public override string Id(int row) => throw new InvalidOperationException("every row is null");

        public override uint Hash(int row) => throw new InvalidOperationException("every row is null");
    }

    /// <summary>
    /// Indices into a dictionary of values of a type read above. The text of each dictionary
    /// entry is made once, on first use, so a categorical field or an id repeated across rows
    /// costs one string per distinct value.
    /// </summary>
    private sealed class DictionaryEncoded<TIndex>(string name, DictionaryArray encoded, PrimitiveArray<TIndex> indices, ArrowEventColumn dictionary)
        : ArrowEventColumn
        where TIndex : struct, IBinaryInteger<TIndex>
    {
        private readonly int _entries = encoded.Dictionary.Length;
        private string?[]? _texts;

        public override bool HoldsNumbers => dictionary.HoldsNumbers;

        public override bool HoldsText => dictionary.HoldsText;

        public override bool IsNull(int row) => encoded.IsNull(row) || dictionary.IsNull(Entry(row));

        public override float Number(int row) => dictionary.Number(Entry(row));

        public override string Text(int row) => Cached(Entry(row), static (values, entry) => values.Text(entry));

        public override string Id(int row) => Cached(Entry(row), static (values, entry) => values.Id(entry));

        public override uint Hash(int row) => dictionary.Hash(Entry(row));

        private int Entry(int row)
        {
            // An unsigned index beyond long's range wraps negative, and is refused with the rest.
            var index = long.CreateTruncating(indices.Values[row]);
            // A producer's bug, not a crash of the scoring thread: the row is refused with the reason.
            return (ulong)index >= (ulong)_entries
                ? throw new EventBindingException($"column '{name}' has dictionary index {indices.Values[row]} in row {row}, beyond its {_entries} values")
                : (int)index;
        }

        private string Cached(int entry, Func<ArrowEventColumn, int, string> read)
        {
            _texts ??= new string?[_entries];
            return _texts[entry] ??= read(dictionary, entry);
        }
    }
}
