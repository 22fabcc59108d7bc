namespace EdgePlatform.Training.Data;

/// <summary>
/// Applies the caller's overrides to the kinds a file declares or inference found, drops
/// ignored columns, and maps each field of the file to its schema column (-1: not read).
/// </summary>
internal static class SchemaResolver
{
    public static (DataSchema Schema, int[] FieldToColumn) Resolve(
        string source,
        IReadOnlyList<string> names,
        Func<int, ColumnKind> naturalKind,
        TabularReadOptions options,
        Func<int, IReadOnlyList<string>?>? categories = null)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (!seen.Add(name))
            {
                throw DataErrors.File(source, $"the column name '{name}' appears more than once; every column needs its own name.");
            }
        }

        foreach (var overridden in options.Overrides.Keys)
        {
            if (!seen.Contains(overridden))
            {
                throw DataErrors.File(source, $"an override names the column '{overridden}', which the file does not have; its columns are: {string.Join(", ", names)}.");
            }
        }

        var columns = new List<DataColumn>(names.Count);
        var map = new int[names.Count];
        for (var i = 0; i < names.Count; i++)
        {
            var kind = options.Overrides.TryGetValue(names[i], out var overridden) ? overridden : naturalKind(i);
            if (kind == ColumnKind.Ignore)
            {
                map[i] = -1;
                continue;
            }

            map[i] = columns.Count;
            columns.Add(new DataColumn(names[i], kind, kind == ColumnKind.Categorical ? categories?.Invoke(i) : null));
        }

        return (new DataSchema(columns), map);
    }
}
