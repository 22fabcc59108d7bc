using EdgePlatform.Training.Data;

namespace EdgePlatform.Training.Tests.Data;

public sealed class TabularDatasetFromReaderTests
{
    private const string Digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    private static readonly DataSchema Schema = new([
        new DataColumn("x", ColumnKind.Numeric),
        new DataColumn("color", ColumnKind.Categorical),
        new DataColumn("outcome", ColumnKind.Categorical, ["fail", "pass"]),
    ]);

    [Fact]
    public void FromReader_TwoValuedCategoricalLabel_TheSecondDeclaredValueIsPositive()
    {
        var data = Load(i => i % 3 == 0 ? "fail" : "pass");

        Assert.Equal("pass", data.PositiveClass);
        Assert.Equal(66, data.PositiveCount);
        Assert.Equal([ColumnKind.Numeric, ColumnKind.Categorical], data.FeatureKinds);
        Assert.Null(data.GetStrings(0)["color"]);
        Assert.True(float.IsNaN(data.GetFeatures(1)["x"]));
    }

    [Fact]
    public void FromReader_PositiveClassGiven_ThatValueIsTrue()
    {
        var data = Load(i => i % 3 == 0 ? "fail" : "pass", positiveClass: "fail");

        Assert.Equal("fail", data.PositiveClass);
        Assert.Equal(34, data.PositiveCount);
    }

    [Fact]
    public void FromReader_MissingLabel_NamesTheLine()
    {
        var ex = Assert.Throws<DatasetFormatException>(() => Load(i => i == 7 ? null : "pass"));

        Assert.Equal(9, ex.LineNumber);
        Assert.Equal("rows.csv: line 9, column 'outcome': the label is missing; every training row needs one.", ex.Message);
    }

    [Fact]
    public void FromReader_LabelWithThreeValues_IsRefused()
    {
        var ex = Assert.Throws<DatasetFormatException>(() => Load(i => (i % 3) switch { 0 => "fail", 1 => "pass", _ => "unknown" }));

        Assert.Contains("has 3 distinct value(s) (fail, pass, unknown); a binary classifier needs exactly two", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromReader_BooleanLabel_TrueIsPositive()
    {
        var schema = new DataSchema([new DataColumn("x", ColumnKind.Numeric), new DataColumn("faulty", ColumnKind.Boolean)]);
        using var reader = new InMemoryReader(schema, [.. Enumerable.Range(0, 60).Select(i => new object?[] { (double)i, i % 4 == 0 ? 1.0 : 0.0 })]);

        var data = TabularDataset.FromReader(reader, "faulty", Digest);

        Assert.Null(data.PositiveClass);
        Assert.Equal(15, data.PositiveCount);
    }

    private static TabularDataset Load(Func<int, string?> label, string? positiveClass = null)
    {
        var rows = Enumerable.Range(0, 100)
            .Select(i => new object?[] { i % 2 == 1 ? null : (double)i, i % 2 == 0 ? null : "red", label(i) })
            .ToList();
        using var reader = new InMemoryReader(Schema, rows);
        return TabularDataset.FromReader(reader, "outcome", Digest, positiveClass: positiveClass, source: "rows.csv");
    }
}
