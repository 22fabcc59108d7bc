using System.Globalization;
using EdgePlatform.Contracts;

namespace EdgePlatform.Training.Data;

/// <summary>The findings a data scientist acts on, each with the column and what to do, derived from a finished profile.</summary>
internal static class ProfileWarnings
{
    public static List<ProfileWarning> For(DatasetProfile profile, DatasetProfileOptions options)
    {
        var warnings = new List<ProfileWarning>();
        foreach (var column in profile.Columns)
        {
            ForColumn(column, profile, options, warnings);
        }

        if (profile.Label is { } label && label.Classes.Count > 1 && label.MinorityFraction < options.MinorityClassFraction)
        {
            var minority = label.Classes[^1];
            warnings.Add(new ProfileWarning(
                ProfileWarningKinds.ClassImbalance,
                label.Column,
                string.Create(CultureInfo.InvariantCulture, $"class '{minority.Value}' is {Percent(minority.Fraction)} of labelled rows ({minority.Count:N0})"),
                "stratify the train/test split, weight classes or resample, and judge the model by PR-AUC or per-class recall rather than accuracy"));
        }

        if (profile.DuplicateRows > 0)
        {
            var approximate = profile.DuplicateRowsExact ? string.Empty : "about ";
            warnings.Add(new ProfileWarning(
                ProfileWarningKinds.Duplicates,
                null,
                string.Create(CultureInfo.InvariantCulture, $"{approximate}{profile.DuplicateRows:N0} rows ({Percent((double)profile.DuplicateRows / Math.Max(1, profile.Rows))}) repeat an earlier row"),
                "drop duplicate rows before splitting, or the same row lands in both train and test and flatters the evaluation"));
        }

        foreach (var pair in profile.Correlations)
        {
            warnings.Add(new ProfileWarning(
                ProfileWarningKinds.Correlated,
                $"{pair.First},{pair.Second}",
                string.Create(CultureInfo.InvariantCulture, $"'{pair.First}' and '{pair.Second}' are correlated, r = {pair.R:0.000}"),
                "keep one of the two (or combine them); if one is derived from the label, it leaks the answer"));
        }

        return [.. warnings.OrderBy(w => IndexOf(w.Kind))];
    }

    private static void ForColumn(ColumnProfile column, DatasetProfile profile, DatasetProfileOptions options, List<ProfileWarning> warnings)
    {
        var isLabel = column.Name == options.LabelColumn;
        if (column.Constant)
        {
            warnings.Add(new ProfileWarning(
                ProfileWarningKinds.Constant,
                column.Name,
                $"every value is '{column.TopValues[0].Value}'",
                "drop the column: it carries no information"));
        }
        else if (column.NearConstant && !isLabel)
        {
            var top = column.TopValues[0];
            warnings.Add(new ProfileWarning(
                ProfileWarningKinds.NearConstant,
                column.Name,
                string.Create(CultureInfo.InvariantCulture, $"'{top.Value}' is {Percent((double)top.Count / column.Count)} of values"),
                "drop the column, or turn it into a flag for the rare values if they matter"));
        }

        if (column.MissingFraction > options.ManyMissingFraction)
        {
            warnings.Add(new ProfileWarning(
                ProfileWarningKinds.ManyMissing,
                column.Name,
                string.Create(CultureInfo.InvariantCulture, $"{Percent(column.MissingFraction)} missing ({column.Missing:N0} of {profile.Rows:N0})"),
                isLabel
                    ? "drop the unlabelled rows for training, or label them"
                    : "impute (median or most frequent) and add a missing-indicator column, or drop the column if it is mostly empty"));
        }

        if (column.OutsideDeclaredRange is > 0 and var outside)
        {
            var range = options.DeclaredRanges[column.Name];
            warnings.Add(new ProfileWarning(
                ProfileWarningKinds.OutsideDeclaredRange,
                column.Name,
                string.Create(CultureInfo.InvariantCulture, $"{outside:N0} values outside the declared range [{range.Min?.ToString("R", CultureInfo.InvariantCulture) ?? "-∞"}, {range.Max?.ToString("R", CultureInfo.InvariantCulture) ?? "∞"}] (seen {column.Min:R} to {column.Max:R})"),
                "check the source for unit or sensor errors, then clip the values or mark them missing"));
        }

        if (column.Kind == ColumnKind.Categorical.Name() && !isLabel
            && (column.Distinct > options.HighCardinality || (column.Count >= 20 && column.Distinct > column.Count / 2)))
        {
            warnings.Add(new ProfileWarning(
                ProfileWarningKinds.HighCardinality,
                column.Name,
                string.Create(CultureInfo.InvariantCulture, $"{(column.DistinctExact ? string.Empty : "about ")}{column.Distinct:N0} distinct values in {column.Count:N0} rows"),
                "group rare values into 'other' or hash-encode; if it is an identifier, drop it"));
        }

        if (column.Outliers is { } outliers && column.Count > 0 && (double)outliers / column.Count > options.HeavyOutlierFraction)
        {
            warnings.Add(new ProfileWarning(
                ProfileWarningKinds.HeavyOutliers,
                column.Name,
                string.Create(CultureInfo.InvariantCulture, $"about {Percent((double)outliers / column.Count)} of values lie outside Q1 - 1.5 IQR .. Q3 + 1.5 IQR"),
                "check for errors or sentinel values; consider a log transform, clipping, or a tree-based model"));
        }
    }

    private static int IndexOf(string kind)
    {
        for (var i = 0; i < ProfileWarningKinds.All.Count; i++)
        {
            if (ProfileWarningKinds.All[i] == kind)
            {
                return i;
            }
        }

        return ProfileWarningKinds.All.Count;
    }

    private static string Percent(double fraction) => fraction.ToString("0.##%", CultureInfo.InvariantCulture);
}
