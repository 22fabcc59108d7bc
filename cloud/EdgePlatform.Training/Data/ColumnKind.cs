namespace EdgePlatform.Training.Data;

/// <summary>
/// What a column holds, as inferred by a reader or overridden by the user. Numeric, boolean
/// and date-time values travel as numbers; categorical and text values as strings.
/// </summary>
public enum ColumnKind
{
    /// <summary>Real numbers; missing is <see cref="double.NaN"/>.</summary>
    Numeric,

    /// <summary>A value from a small set (ARFF nominal, a string column with few distinct values); missing is null.</summary>
    Categorical,

    /// <summary>true/false (also 1/0, yes/no); travels as 1.0/0.0, missing is <see cref="double.NaN"/>.</summary>
    Boolean,

    /// <summary>Free text; missing is null.</summary>
    Text,

    /// <summary>A point in time; travels as seconds since the Unix epoch (UTC), missing is <see cref="double.NaN"/>.</summary>
    DateTime,

    /// <summary>Not read: ids, timestamps nobody trains on. Readers skip it.</summary>
    Ignore,
}

public static class ColumnKinds
{
    /// <summary>Whether values of <paramref name="kind"/> travel in <see cref="DataBatch.Numbers"/> (otherwise in <see cref="DataBatch.Strings"/>).</summary>
    public static bool IsNumeric(this ColumnKind kind) => kind is ColumnKind.Numeric or ColumnKind.Boolean or ColumnKind.DateTime;

    /// <summary>The lower-case names used in specs, the API and the CLI: numeric, categorical, boolean, text, datetime, ignore.</summary>
    public static string Name(this ColumnKind kind) => kind.ToString().ToLowerInvariant();

    public static bool TryParse(string? name, out ColumnKind kind) =>
        Enum.TryParse(name?.Replace("-", string.Empty, StringComparison.Ordinal), ignoreCase: true, out kind) && Enum.IsDefined(kind);
}
