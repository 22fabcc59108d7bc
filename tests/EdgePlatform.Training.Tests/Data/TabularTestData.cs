using System.Text;
using EdgePlatform.Training.Data;

namespace EdgePlatform.Training.Tests.Data;

/// <summary>Reads a whole dataset into rows of boxed values (double with NaN for missing numbers, string or null), for assertions.</summary>
internal static class TabularTestData
{
    public static (DataSchema Schema, List<object?[]> Rows) ReadAll(ITabularReader reader)
    {
        var rows = new List<object?[]>();
        while (reader.ReadBatch() is { } batch)
        {
            for (var r = 0; r < batch.RowCount; r++)
            {
                var row = new object?[reader.Schema.Columns.Count];
                for (var c = 0; c < row.Length; c++)
                {
                    row[c] = batch.Numbers[c] is { } numbers ? numbers[r] : batch.Strings[c]![r];
                }

                rows.Add(row);
            }
        }

        return (reader.Schema, rows);
    }

    public static (DataSchema Schema, List<object?[]> Rows) ReadText(string text, string name, TabularReadOptions? options = null)
    {
        using var reader = TabularFormats.Open(new MemoryStream(Encoding.UTF8.GetBytes(text)), name, options);
        return ReadAll(reader);
    }

    public static DatasetFormatException ReadError(string text, string name, TabularReadOptions? options = null) =>
        Assert.Throws<DatasetFormatException>(() => ReadText(text, name, options));

    /// <summary>Equal within a tolerance that scales with magnitude.</summary>
    public static void Close(double expected, double actual)
    {
        if (double.IsNaN(expected))
        {
            Assert.True(double.IsNaN(actual), $"expected missing (NaN), got {actual}");
            return;
        }

        Assert.True(Math.Abs(expected - actual) <= 1e-9 * Math.Max(1, Math.Max(Math.Abs(expected), Math.Abs(actual))), $"expected {expected}, got {actual}");
    }
}
