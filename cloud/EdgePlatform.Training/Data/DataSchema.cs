namespace EdgePlatform.Training.Data;

/// <summary>One column of a dataset: its name and kind; for a categorical column, the declared values when the format declares them (ARFF nominal).</summary>
public sealed record DataColumn(string Name, ColumnKind Kind, IReadOnlyList<string>? Categories = null);

/// <summary>The columns a reader produces, in order. Ignored columns are not listed.</summary>
public sealed record DataSchema(IReadOnlyList<DataColumn> Columns)
{
    public int IndexOf(string name)
    {
        for (var i = 0; i < Columns.Count; i++)
        {
            if (string.Equals(Columns[i].Name, name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}
