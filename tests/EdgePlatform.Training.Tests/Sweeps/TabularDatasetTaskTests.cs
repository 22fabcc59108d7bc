using EdgePlatform.Contracts;
using EdgePlatform.Training.Data;
using EdgePlatform.Training.Tests.Data;

namespace EdgePlatform.Training.Tests.Sweeps;

/// <summary>How a label is read for each task, on data held in memory (no weka package needed).</summary>
public sealed class TabularDatasetTaskTests
{
    private static InMemoryReader Reader(ColumnKind labelKind, Func<int, object?> label, int rows = 60) =>
        new(InMemoryReader.SchemaOf(("x", ColumnKind.Numeric), ("y", labelKind)), [.. Enumerable.Range(0, rows).Select(i => new object?[] { (double)i, label(i) })]);

    [Fact]
    public void ReadForTask_NoTaskAndStringLabelOfThreeValues_IsMulticlassInOrdinalOrder()
    {
        using var reader = Reader(ColumnKind.Categorical, i => (i % 3) switch { 0 => "pear", 1 => "apple", _ => "fig" });

        var data = TabularDataset.ReadForTask(reader, "y", "sha256:00", task: null);

        Assert.Equal(ModelTasks.MulticlassClassification, data.Task);
        Assert.Equal(["apple", "fig", "pear"], data.Classes);
        Assert.Equal(2, data.GetClass(0));
        Assert.Equal(0, data.GetClass(1));
    }

    [Fact]
    public void ReadForTask_NoTaskAndManyNumbers_IsRegression()
    {
        using var reader = Reader(ColumnKind.Numeric, i => i * 1.5);

        var data = TabularDataset.ReadForTask(reader, "y", "sha256:00", task: null);

        Assert.Equal(ModelTasks.Regression, data.Task);
        Assert.Equal(3f, data.GetTarget(2));
        Assert.Throws<InvalidOperationException>(() => data.GetClass(0));
    }

    [Fact]
    public void ReadForTask_NoTaskAndTwoNumbers_IsBinary()
    {
        using var reader = Reader(ColumnKind.Numeric, i => i % 2 == 0 ? 0.0 : 1.0);

        var data = TabularDataset.ReadForTask(reader, "y", "sha256:00", task: null);

        Assert.Equal(ModelTasks.BinaryClassification, data.Task);
        Assert.True(data.GetLabel(1));
        Assert.Equal(30, data.PositiveCount);
    }

    [Fact]
    public void ReadForTask_MulticlassOnNumbers_OrdersClassesNumerically()
    {
        using var reader = Reader(ColumnKind.Numeric, i => (double)((i % 3) * 5));

        var data = TabularDataset.ReadForTask(reader, "y", "sha256:00", ModelTasks.MulticlassClassification);

        Assert.Equal(["0", "5", "10"], data.Classes);
    }

    [Fact]
    public void ReadForTask_MulticlassWithOneValue_NamesTheColumn()
    {
        using var reader = Reader(ColumnKind.Categorical, _ => "only");

        var ex = Assert.Throws<DatasetFormatException>(() => TabularDataset.ReadForTask(reader, "y", "sha256:00", ModelTasks.MulticlassClassification));

        Assert.Contains("label column 'y'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("at least two classes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadForTask_UnknownTask_ListsTheTasks()
    {
        using var reader = Reader(ColumnKind.Numeric, i => (double)i);

        var ex = Assert.Throws<ArgumentException>(() => TabularDataset.ReadForTask(reader, "y", "sha256:00", "ranking"));

        Assert.Contains(ModelTasks.Regression, ex.Message, StringComparison.Ordinal);
    }
}
