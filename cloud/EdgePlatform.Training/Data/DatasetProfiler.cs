using EdgePlatform.Contracts;

namespace EdgePlatform.Training.Data;

/// <summary>
/// Profiles a dataset in one streaming pass over any <see cref="ITabularReader"/>, in memory bounded
/// by the number of columns, not rows: per column a few counters, a quantile sketch (about 3·k
/// doubles), at most <see cref="DatasetProfileOptions.DistinctExactLimit"/> counted values; per
/// dataset a duplicate-row table of at most 2^24 slots and the correlation sums of each pair of
/// numeric columns. See <see cref="DatasetProfile"/> for which figures are exact and which estimated.
/// </summary>
public static class DatasetProfiler
{
    /// <summary>
    /// Reads every batch of <paramref name="reader"/> and profiles it. <paramref name="progress"/>
    /// hears the rows read so far after each batch. The reader's <see cref="DatasetFormatException"/>
    /// passes through unchanged.
    /// </summary>
    public static DatasetProfile Profile(
        ITabularReader reader,
        string source,
        DatasetProfileOptions? options = null,
        IProgress<long>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        options ??= new DatasetProfileOptions();
        options.Validate();
        var schema = reader.Schema;
        CheckNamedColumns(schema, options, source);

        var columns = schema.Columns.Select(column => new ColumnAccumulator(column, options)).ToArray();
        var numericColumns = Enumerable.Range(0, schema.Columns.Count).Where(i => schema.Columns[i].Kind == ColumnKind.Numeric).ToList();
        var correlations = new CorrelationAccumulator(numericColumns, options.CorrelationMaxColumns);
        var duplicates = new DuplicateRowCounter(options.DuplicateRowExactLimit);
        var rowHashes = Array.Empty<ulong>();
        long rows = 0;

        using var input = options.ReadAhead ? new ReadAheadReader(reader) : null;
        var batches = (ITabularReader?)input ?? reader;
        while (batches.ReadBatch(cancellationToken) is { } batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var count = batch.RowCount;
            if (rowHashes.Length < count)
            {
                rowHashes = new ulong[count];
            }

            Array.Fill(rowHashes, ValueHash.RowSeed, 0, count);
            for (var c = 0; c < columns.Length; c++)
            {
                if (batch.Numbers[c] is { } numbers)
                {
                    columns[c].AddNumbers(numbers, count, rowHashes);
                }
                else
                {
                    columns[c].AddStrings(batch.Strings[c]!, count, rowHashes);
                }
            }

            for (var r = 0; r < count; r++)
            {
                duplicates.Add(ValueHash.Finish(rowHashes[r]));
            }

            correlations.Add(batch);
            rows += count;
            progress?.Report(rows);
        }

        var profiles = columns.Select(column => column.ToProfile(options)).ToList();
        var label = LabelOf(columns, schema, options);
        var pairs = correlations.Pairs()
            .Where(pair => pair.R is { } r && Math.Abs(r) >= options.CorrelationThreshold)
            .OrderByDescending(pair => Math.Abs(pair.R!.Value))
            .Select(pair => new CorrelatedPair(schema.Columns[pair.First].Name, schema.Columns[pair.Second].Name, pair.R!.Value, pair.Rows))
            .ToList();
        var sketchK = options.QuantileSketchK;
        var profile = new DatasetProfile(
            source,
            rows,
            profiles,
            duplicates.Duplicates,
            duplicates.Exact,
            KllSketch.NormalizedRankError(sketchK),
            label,
            pairs,
            options.CorrelationThreshold,
            correlations.Stride > 1,
            []);
        return profile with { Warnings = ProfileWarnings.For(profile, options) };
    }

    private static void CheckNamedColumns(DataSchema schema, DatasetProfileOptions options, string source)
    {
        if (options.LabelColumn is { } label && schema.IndexOf(label) < 0)
        {
            throw new DatasetFormatException($"{source}: no label column '{label}'; the columns are {string.Join(", ", schema.Columns.Select(c => c.Name))}");
        }

        foreach (var name in options.DeclaredRanges.Keys)
        {
            var index = schema.IndexOf(name);
            if (index < 0)
            {
                throw new DatasetFormatException($"{source}: a range is declared for column '{name}', which the dataset does not have");
            }

            if (!schema.Columns[index].Kind.IsNumeric())
            {
                throw new DatasetFormatException($"{source}: a range is declared for column '{name}', which is {schema.Columns[index].Kind.Name()}, not numeric");
            }
        }
    }

    private static LabelProfile? LabelOf(ColumnAccumulator[] columns, DataSchema schema, DatasetProfileOptions options)
    {
        if (options.LabelColumn is not { } name)
        {
            return null;
        }

        var (classes, exact) = columns[schema.IndexOf(name)].Classes(options.TopValues);
        var labelled = classes.Sum(pair => pair.Value);
        var shares = classes
            .Select(pair => new ClassShare(pair.Key, pair.Value, labelled == 0 ? 0 : (double)pair.Value / labelled))
            .ToList();
        return new LabelProfile(name, shares, shares.Count == 0 ? 0 : shares.Min(share => share.Fraction), exact);
    }
}
