using Apache.Arrow;
using Apache.Arrow.Types;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Inference.Tests.Engine;

/// <summary>
/// Every column kind an Arrow producer may send for an event field, built with Apache.Arrow's own
/// builders: numbers of every width, strings plain, large, as views and dictionary-encoded with
/// indices of every width, and Arrow's null type; and the refusal, naming the column and its
/// type, of a column the agent cannot read.
/// </summary>
public sealed class ArrowEventRowsTests
{
    [Fact]
    public void Bind_NumberColumnsOfEveryWidth_BindTheirValues()
    {
        (string Name, IArrowArray Values, float Expected)[] columns =
        [
            ("int8", new Int8Array.Builder().Append(-8).Build(), -8f),
            ("int16", new Int16Array.Builder().Append(-1600).Build(), -1600f),
            ("int32", new Int32Array.Builder().Append(-320_000).Build(), -320_000f),
            ("int64", new Int64Array.Builder().Append(-6_400_000_000L).Build(), -6_400_000_000f),
            ("uint8", new UInt8Array.Builder().Append(255).Build(), 255f),
            ("uint16", new UInt16Array.Builder().Append(65_535).Build(), 65_535f),
            ("uint32", new UInt32Array.Builder().Append(4_000_000_000).Build(), 4_000_000_000f),
            ("uint64", new UInt64Array.Builder().Append(10_000_000_000_000_000_000UL).Build(), 1e19f),
            ("halffloat", new HalfFloatArray.Builder().Append((Half)1.5).Build(), 1.5f),
            ("float", new FloatArray.Builder().Append(61.25f).Build(), 61.25f),
            ("double", new DoubleArray.Builder().Append(101.325).Build(), 101.325f),
            ("dictionary of doubles", Dictionary(Int16Type.Default, new DoubleArray.Builder().Append(1).Append(2.5).Build(), 1), 2.5f),
        ];
        using var batch = Batch([.. columns.Select(c => (c.Name, c.Values))]);
        var rows = new ArrowEventRows(batch);
        var features = new float[columns.Length];

        rows.Bind(0, [.. columns.Select(c => c.Name)], features);

        for (var i = 0; i < columns.Length; i++)
        {
            Assert.True(Close(columns[i].Expected, features[i]), $"{columns[i].Name}: expected {columns[i].Expected:R}, bound {features[i]:R}");
        }
    }

    [Fact]
    public void Bind_StringColumnsOfEveryKind_BindTheirTextAndNullsAsEmpty()
    {
        const string Long = "a site name longer than the twelve bytes a view keeps inline";
        (string Name, IArrowArray Values)[] columns =
        [
            ("utf8", new StringArray.Builder().Append("north").AppendNull().Append(Long).Build()),
            ("large_utf8", new LargeStringArray.Builder().Append("north").AppendNull().Append(Long).Build()),
            ("utf8view", new StringViewArray.Builder().Append("north").AppendNull().Append(Long).Build()),
            ("dictionary int8", Dictionary(Int8Type.Default, Words("north", Long), 0, null, 1)),
            ("dictionary uint16", Dictionary(UInt16Type.Default, Words("north", Long), 0, null, 1)),
            ("dictionary int64", Dictionary(Int64Type.Default, Words("north", Long), 0, null, 1)),
            ("dictionary uint64", Dictionary(UInt64Type.Default, Words("north", Long), 0, null, 1)),
            ("dictionary of large_utf8", Dictionary(Int32Type.Default, new LargeStringArray.Builder().Append("north").Append(Long).Build(), 0, null, 1)),
            ("dictionary of utf8view", Dictionary(UInt32Type.Default, new StringViewArray.Builder().Append("north").Append(Long).Build(), 0, null, 1)),
            ("null", new NullArray(3)),
        ];
        using var batch = Batch([.. columns, ("rpm", new FloatArray.Builder().AppendRange([1460f, 1470f, 1480f]).Build())]);
        var binder = new EventBinder(["rpm"], columns.Select(c => c.Name));
        var rows = new ArrowEventRows(batch);
        var strings = new string[columns.Length];

        string[][] bound = [.. Enumerable.Range(0, 3).Select(row =>
        {
            rows.Bind(row, binder, new float[1], strings);
            return strings.ToArray();
        })];

        Assert.Equal([.. columns.Select(c => c.Name == "null" ? string.Empty : "north")], bound[0]);
        Assert.All(bound[1], text => Assert.Equal(string.Empty, text));
        Assert.Equal([.. columns.Select(c => c.Name == "null" ? string.Empty : Long)], bound[2]);
    }

    public static TheoryData<string, string?> IdColumns() => new()
    {
        { "utf8", "e1" },
        { "large_utf8", "e1" },
        { "utf8view", "e1" },
        { "dictionary<int8, utf8>", "e1" },
        { "dictionary<uint32, large_utf8>", "e1" },
        { "int32", "7" },
        { "uint64", "18000000000000000000" },
        { "double", "7" },
        { "null", null },
    };

    [Theory]
    [MemberData(nameof(IdColumns))]
    public void Bind_IdColumnOfEveryKind_CarriesTheIdAndHashesItAsJsonWouldItsText(string kind, string? expected)
    {
        IArrowArray ids = kind switch
        {
            "utf8" => new StringArray.Builder().Append("e0").Append("e1").Build(),
            "large_utf8" => new LargeStringArray.Builder().Append("e0").Append("e1").Build(),
            "utf8view" => new StringViewArray.Builder().Append("e0").Append("e1").Build(),
            "dictionary<int8, utf8>" => Dictionary(Int8Type.Default, Words("e1", "e0"), 1, 0),
            "dictionary<uint32, large_utf8>" => Dictionary(UInt32Type.Default, new LargeStringArray.Builder().Append("e0").Append("e1").Build(), 0, 1),
            "int32" => new Int32Array.Builder().Append(6).Append(7).Build(),
            "uint64" => new UInt64Array.Builder().Append(0).Append(18_000_000_000_000_000_000UL).Build(),
            "double" => new DoubleArray.Builder().Append(6.5).Append(7.0).Build(),
            _ => new NullArray(2),
        };
        using var batch = Batch((EventFields.CorrelationId, ids), ("rpm", new FloatArray.Builder().AppendRange([1460f, 1470f]).Build()));
        var rows = new ArrowEventRows(batch);

        var id = rows.Bind(1, ["rpm"], new float[1]);
        var hashed = rows.TryHashKey(1, EventFields.CorrelationId, out var hash);

        Assert.Equal(expected, id);
        Assert.Equal(expected is not null, hashed);
        if (expected is not null)
        {
            Assert.Equal(ArmBuckets.Hash(expected), hash);
        }
    }

    [Theory]
    [InlineData("bool")]
    [InlineData("timestamp")]
    [InlineData("dictionary<int32, bool>")]
    public void Constructor_IdColumnTheAgentCannotRead_RefusesTheBatchNamingTheColumnAndItsType(string kind)
    {
        using var batch = Batch((EventFields.CorrelationId, Unreadable(kind)), ("rpm", new FloatArray.Builder().AppendRange([1460f, 1470f]).Build()));

        var ex = Assert.Throws<EventBindingException>(() => new ArrowEventRows(batch));

        Assert.StartsWith($"column 'id' is a column of {kind}, which the agent cannot read as an event id", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_ExperimentKeyColumnTheAgentCannotRead_RefusesTheBatchNamingTheColumn()
    {
        using var batch = Batch(("device", Unreadable("bool")), ("rpm", new FloatArray.Builder().AppendRange([1460f, 1470f]).Build()));

        var ex = Assert.Throws<EventBindingException>(() => new ArrowEventRows(batch, keyField: "device"));

        Assert.StartsWith("column 'device' is a column of bool, which the agent cannot read as an experiment key", ex.Message, StringComparison.Ordinal);
        Assert.False(new ArrowEventRows(batch).TryHashKey(0, "device", out _));
    }

    [Theory]
    [InlineData("bool", true)]
    [InlineData("timestamp", true)]
    [InlineData("dictionary<int32, bool>", true)]
    [InlineData("utf8", true)]
    [InlineData("dictionary<int16, utf8>", true)]
    [InlineData("int32", false)]
    public void Bind_FieldColumnOfAnotherKind_RefusesEveryRowNamingTheColumnAndItsType(string kind, bool numericField)
    {
        var column = kind switch
        {
            "utf8" => new StringArray.Builder().Append("hot").Append("cold").Build(),
            "dictionary<int16, utf8>" => Dictionary(Int16Type.Default, Words("hot", "cold"), 0, 1),
            "int32" => new Int32Array.Builder().Append(3).Append(4).Build(),
            _ => Unreadable(kind),
        };
        using var batch = Batch(("reading", column), ("rpm", new FloatArray.Builder().AppendRange([1460f, 1470f]).Build()));
        var binder = numericField ? new EventBinder(["rpm", "reading"]) : new EventBinder(["rpm"], ["reading"]);
        var rows = new ArrowEventRows(batch);

        var problems = Enumerable.Range(0, 2)
            .Select(row => Assert.Throws<EventBindingException>(() => rows.Bind(row, binder, new float[binder.FeatureCount], new string[binder.StringFields.Count])).Message)
            .ToList();

        var expected = $"field 'reading' is a column of {kind}, expected {(numericField ? "a number" : "a string")}";
        Assert.All(problems, problem => Assert.Equal(expected, problem));
    }

    [Fact]
    public void Bind_NullTypeColumn_MissingWhereTheFieldAcceptsItAndNullWhereItDoesNot()
    {
        using var batch = Batch(("duration", new NullArray(1)), ("wage", new NullArray(1)), ("rpm", new FloatArray.Builder().Append(1460f).Build()));
        var rows = new ArrowEventRows(batch);
        var features = new float[2];

        rows.Bind(0, new EventBinder(["rpm", "duration"], fieldsAcceptingMissing: ["duration"]), features, []);
        var ex = Assert.Throws<EventBindingException>(() => rows.Bind(0, new EventBinder(["rpm", "wage"]), features, []));

        Assert.Equal((1460f, true), (features[0], float.IsNaN(features[1])));
        Assert.Equal("field 'wage' is null", ex.Message);
    }

    [Fact]
    public void Bind_DictionaryIndexBeyondItsValues_RefusesTheRowNamingTheColumn()
    {
        using var batch = Batch(("site", Dictionary(UInt8Type.Default, Words("north", "south"), 1, 200)), ("rpm", new FloatArray.Builder().AppendRange([1460f, 1470f]).Build()));
        var binder = new EventBinder(["rpm"], ["site"]);
        var rows = new ArrowEventRows(batch);
        var strings = new string[1];

        rows.Bind(0, binder, new float[1], strings);
        var ex = Assert.Throws<EventBindingException>(() => rows.Bind(1, binder, new float[1], strings));

        Assert.Equal("south", strings[0]);
        Assert.Equal("column 'site' has dictionary index 200 in row 1, beyond its 2 values", ex.Message);
    }

    [Fact]
    public void Bind_FloatAndDoubleColumnsWithDictionaryEncodedIds_AllocateNothingPerRowOnceTheIdsAreRead()
    {
        const int Rows = 1_000;
        var random = new Random(7);
        using var batch = Batch(
            (EventFields.CorrelationId, Dictionary(Int32Type.Default, Words([.. Enumerable.Range(0, Rows).Select(i => $"e{i}")]), [.. Enumerable.Range(0, Rows).Select(i => (long?)i)])),
            ("temperature_c", new FloatArray.Builder().AppendRange(Enumerable.Range(0, Rows).Select(_ => 60 + (10 * random.NextSingle()))).Build()),
            ("pressure_kpa", new DoubleArray.Builder().AppendRange(Enumerable.Range(0, Rows).Select(_ => 100 + (5 * random.NextDouble()))).Build()),
            ("rpm", new Int32Array.Builder().AppendRange(Enumerable.Range(0, Rows).Select(i => 1400 + i)).Build()));
        var rows = new ArrowEventRows(batch);
        string[] fields = ["temperature_c", "pressure_kpa", "rpm"];
        var features = new float[fields.Length];
        for (var row = 0; row < Rows; row++)
        {
            rows.Bind(row, fields, features);
        }

        var idLengths = 0;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var row = 0; row < Rows; row++)
        {
            idLengths += rows.Bind(row, fields, features)!.Length;
            rows.TryHashKey(row, EventFields.CorrelationId, out _);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(Enumerable.Range(0, Rows).Sum(i => $"e{i}".Length), idLengths);
        Assert.Equal(0L, allocated);
    }

    private static RecordBatch Batch(params (string Name, IArrowArray Values)[] columns) =>
        new(
            new Schema([.. columns.Select(c => new Field(c.Name, c.Values.Data.DataType, nullable: true))], null),
            columns.Select(c => c.Values),
            columns[0].Values.Length);

    private static StringArray Words(params string[] words) => new StringArray.Builder().AppendRange(words).Build();

    /// <summary>A dictionary-encoded column: <paramref name="indices"/> (null for a null row) into <paramref name="dictionary"/>.</summary>
    private static DictionaryArray Dictionary(IntegerType indexType, IArrowArray dictionary, params long?[] indices)
    {
        IArrowArray indexArray = indexType switch
        {
            Int8Type => Indices(new Int8Array.Builder(), indices),
            Int16Type => Indices(new Int16Array.Builder(), indices),
            Int32Type => Indices(new Int32Array.Builder(), indices),
            Int64Type => Indices(new Int64Array.Builder(), indices),
            UInt8Type => Indices(new UInt8Array.Builder(), indices),
            UInt16Type => Indices(new UInt16Array.Builder(), indices),
            UInt32Type => Indices(new UInt32Array.Builder(), indices),
            _ => Indices(new UInt64Array.Builder(), indices),
        };
        return new DictionaryArray(new DictionaryType(indexType, dictionary.Data.DataType, ordered: false), indexArray, dictionary);
    }

    private static TArray Indices<T, TArray, TBuilder>(PrimitiveArrayBuilder<T, TArray, TBuilder> builder, long?[] indices)
        where T : struct, System.Numerics.INumberBase<T>
        where TArray : IArrowArray
        where TBuilder : class, IArrowArrayBuilder<TArray>
    {
        foreach (var index in indices)
        {
            if (index is { } value)
            {
                builder.Append(T.CreateTruncating(value));
            }
            else
            {
                builder.AppendNull();
            }
        }

        return builder.Build(default);
    }

    private static IArrowArray Unreadable(string kind) => kind switch
    {
        "bool" => new BooleanArray.Builder().Append(true).Append(false).Build(),
        "timestamp" => new TimestampArray.Builder().Append(DateTimeOffset.UnixEpoch).Append(DateTimeOffset.UnixEpoch.AddSeconds(1)).Build(),
        _ => Dictionary(Int32Type.Default, new BooleanArray.Builder().Append(true).Append(false).Build(), 0, 1),
    };

    private static bool Close(float expected, float actual) =>
        Math.Abs(expected - actual) <= 1e-6f * Math.Max(1f, Math.Abs(expected));
}
