namespace EdgePlatform.Training.Data;

/// <summary>
/// A run of rows, column by column, as a reader streams them: for each column of the schema
/// either <see cref="Numbers"/> (numeric, boolean, date-time; NaN is missing) or
/// <see cref="Strings"/> (categorical, text; null is missing) holds <see cref="RowCount"/>
/// values, the other is null. <see cref="FirstLine"/> is the source line (or record number) of
/// the first row, for messages. A reader may reuse a batch's arrays for the next batch, so a
/// consumer copies what it keeps.
/// </summary>
public sealed class DataBatch
{
    public DataBatch(DataSchema schema, int capacity)
    {
        ArgumentNullException.ThrowIfNull(schema);
        Schema = schema;
        Numbers = new double[]?[schema.Columns.Count];
        Strings = new string?[]?[schema.Columns.Count];
        for (var i = 0; i < schema.Columns.Count; i++)
        {
            if (schema.Columns[i].Kind.IsNumeric())
            {
                Numbers[i] = new double[capacity];
            }
            else
            {
                Strings[i] = new string?[capacity];
            }
        }

        Capacity = capacity;
    }

    public DataSchema Schema { get; }

    public int Capacity { get; }

    public int RowCount { get; set; }

    public long FirstLine { get; set; }

    /// <summary>Per column: the numbers, or null for a string column.</summary>
    public double[]?[] Numbers { get; }

    /// <summary>Per column: the strings, or null for a numeric column.</summary>
    public string?[]?[] Strings { get; }
}
