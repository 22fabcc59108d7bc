using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using EdgePlatform.Contracts;

namespace EdgePlatform.Training.Data.Snapshots;

/// <summary>
/// Applies cleansing rules in order to a dataset and writes the result with
/// <see cref="CsvRowWriter"/>. A rule that needs statistics (mean, median, mode, IQR)
/// computes them over the data as the earlier rules leave it, in one more pass over the source;
/// means are summed in row order with compensation and medians and quartiles are taken from the
/// sorted values (linear interpolation between order statistics), so the same rules on the same
/// source give the same bytes. Memory: one batch, plus the values of one column while a median or
/// quartiles are computed, plus a 16-byte hash per distinct row for <c>drop-duplicates</c>.
/// </summary>
public sealed class DatasetCleanser
{
    private readonly IReadOnlyList<Stage> _stages;

    private DatasetCleanser(IReadOnlyList<Stage> stages) => _stages = stages;

    /// <summary>Checks the rules against the source schema; throws <see cref="DatasetFormatException"/> naming the rule and field that is wrong.</summary>
    public static DatasetCleanser Create(DataSchema source, CleansingRules rules)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(rules);
        if (rules.Rules is null || rules.Rules.Count == 0)
        {
            throw new DatasetFormatException("rules: give at least one rule");
        }

        var stages = new List<Stage>();
        var schema = source;
        for (var i = 0; i < rules.Rules.Count; i++)
        {
            var stage = Stage.Create(i, rules.Rules[i], schema);
            stages.Add(stage);
            schema = stage.Output;
        }

        return new DatasetCleanser(stages);
    }

    public DataSchema OutputSchema => _stages[^1].Output;

    /// <summary>Reads the source (opened afresh for each pass) through every rule into <paramref name="output"/>; returns the rows written.</summary>
    public long Apply(Func<ITabularReader> open, Stream output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(open);
        for (var i = 0; i < _stages.Count; i++)
        {
            if (_stages[i].NeedsStatistics)
            {
                Run(open, i, row => _stages[i].Observe(row), cancellationToken);
                _stages[i].Conclude();
            }
        }

        using var writer = new CsvRowWriter(output, OutputSchema);
        Run(open, _stages.Count, row => writer.WriteRow(row.Numbers, row.Strings), cancellationToken);
        writer.Flush();
        return writer.Rows;
    }

    /// <summary>Streams the source through the first <paramref name="through"/> stages into <paramref name="sink"/>.</summary>
    private void Run(Func<ITabularReader> open, int through, Action<Row> sink, CancellationToken cancellationToken)
    {
        for (var s = 0; s < through; s++)
        {
            _stages[s].BeginPass();
        }

        using var reader = open();
        var width = reader.Schema.Columns.Count;
        while (reader.ReadBatch(cancellationToken) is { } batch)
        {
            for (var r = 0; r < batch.RowCount; r++)
            {
                var row = new Row(new double[width], new string?[width]);
                for (var c = 0; c < width; c++)
                {
                    if (batch.Numbers[c] is { } numbers)
                    {
                        row.Numbers[c] = numbers[r];
                    }
                    else
                    {
                        row.Numbers[c] = double.NaN;
                        row.Strings[c] = batch.Strings[c]![r];
                    }
                }

                Row? current = row;
                for (var s = 0; s < through && current is not null; s++)
                {
                    current = _stages[s].Apply(current);
                }

                if (current is not null)
                {
                    sink(current);
                }
            }
        }
    }

    internal sealed record Row(double[] Numbers, string?[] Strings)
    {
        public bool IsMissing(int column, bool numeric) => numeric ? double.IsNaN(Numbers[column]) : Strings[column] is null;
    }

    /// <summary>One rule bound to the schema it sees.</summary>
    private abstract class Stage(DataSchema input, DataSchema output)
    {
        public DataSchema Input { get; } = input;

        public DataSchema Output { get; } = output;

        public virtual bool NeedsStatistics => false;

        /// <summary>Forgets what one pass over the source saw (rows seen by drop-duplicates); statistics are kept.</summary>
        public virtual void BeginPass()
        {
        }

        public virtual void Observe(Row row)
        {
        }

        public virtual void Conclude()
        {
        }

        public abstract Row? Apply(Row row);

        public static Stage Create(int index, CleansingRule rule, DataSchema schema)
        {
            var where = $"rules[{index}]";
            if (rule is null || string.IsNullOrWhiteSpace(rule.Op))
            {
                throw new DatasetFormatException($"{where}.op: name the operation (drop-missing, fill-missing, clip-outliers, drop-outliers, drop-duplicates, filter-range, cast, drop-columns)");
            }

            return rule.Op.Trim().ToLowerInvariant() switch
            {
                "drop-missing" => new DropMissing(schema, Columns(where, rule, schema, required: false)),
                "fill-missing" => FillMissing.Create(where, rule, schema, Columns(where, rule, schema, required: false)),
                "clip-outliers" => Outliers.Create(where, rule, schema, Numeric(where, rule, schema), clip: true),
                "drop-outliers" => Outliers.Create(where, rule, schema, Numeric(where, rule, schema), clip: false),
                "drop-duplicates" => new DropDuplicates(schema, Columns(where, rule, schema, required: false)),
                "filter-range" => FilterRange.Create(where, rule, schema, Numeric(where, rule, schema)),
                "cast" => Cast.Create(where, rule, schema, Columns(where, rule, schema, required: true)),
                "drop-columns" => DropColumns.Create(where, schema, Columns(where, rule, schema, required: true)),
                _ => throw new DatasetFormatException($"{where}.op: unknown operation '{rule.Op}'; use drop-missing, fill-missing, clip-outliers, drop-outliers, drop-duplicates, filter-range, cast or drop-columns"),
            };
        }

        private static int[] Columns(string where, CleansingRule rule, DataSchema schema, bool required)
        {
            if (rule.Columns is null || rule.Columns.Count == 0)
            {
                return required
                    ? throw new DatasetFormatException($"{where}.columns: name the columns this rule applies to")
                    : [.. Enumerable.Range(0, schema.Columns.Count)];
            }

            return [.. rule.Columns.Select(name => schema.IndexOf(name) is var i and >= 0
                ? i
                : throw new DatasetFormatException($"{where}.columns: no column '{name}' (columns at this rule: {string.Join(", ", schema.Columns.Select(c => c.Name))})"))];
        }

        private static int[] Numeric(string where, CleansingRule rule, DataSchema schema)
        {
            var columns = Columns(where, rule, schema, required: false);
            if (rule.Columns is null || rule.Columns.Count == 0)
            {
                return [.. columns.Where(c => schema.Columns[c].Kind.IsNumeric())];
            }

            foreach (var c in columns)
            {
                if (!schema.Columns[c].Kind.IsNumeric())
                {
                    throw new DatasetFormatException($"{where}.columns: '{schema.Columns[c].Name}' is {schema.Columns[c].Kind.Name()}; this rule applies to numeric columns");
                }
            }

            return columns;
        }
    }

    private sealed class DropMissing(DataSchema schema, int[] columns) : Stage(schema, schema)
    {
        public override Row? Apply(Row row) =>
            columns.Any(c => row.IsMissing(c, Input.Columns[c].Kind.IsNumeric())) ? null : row;
    }

    private sealed class FillMissing : Stage
    {
        private readonly int[] _columns;
        private readonly string _strategy;
        private readonly double[] _numberFill;
        private readonly string?[] _stringFill;
        private readonly ColumnStatistics[] _statistics;

        private FillMissing(DataSchema schema, int[] columns, string strategy)
            : base(schema, schema)
        {
            _columns = columns;
            _strategy = strategy;
            _numberFill = new double[columns.Length];
            _stringFill = new string?[columns.Length];
            _statistics = [.. columns.Select(_ => new ColumnStatistics())];
        }

        public override bool NeedsStatistics => _strategy != "constant";

        public static FillMissing Create(string where, CleansingRule rule, DataSchema schema, int[] columns)
        {
            var strategy = rule.Strategy?.Trim().ToLowerInvariant() ?? string.Empty;
            if (strategy is not ("mean" or "median" or "mode" or "constant"))
            {
                throw new DatasetFormatException($"{where}.strategy: use mean, median, mode or constant");
            }

            if (rule.Columns is null || rule.Columns.Count == 0)
            {
                columns = strategy is "mean" or "median" ? [.. columns.Where(c => schema.Columns[c].Kind.IsNumeric())] : columns;
            }

            var stage = new FillMissing(schema, columns, strategy);
            for (var i = 0; i < columns.Length; i++)
            {
                var column = schema.Columns[columns[i]];
                if (strategy is "mean" or "median" && !column.Kind.IsNumeric())
                {
                    throw new DatasetFormatException($"{where}.strategy: {strategy} needs a numeric column; '{column.Name}' is {column.Kind.Name()} (use mode or constant)");
                }

                if (strategy == "constant")
                {
                    if (rule.Value is null)
                    {
                        throw new DatasetFormatException($"{where}.value: the constant to fill with");
                    }

                    if (column.Kind.IsNumeric())
                    {
                        stage._numberFill[i] = double.TryParse(rule.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
                            ? number
                            : throw new DatasetFormatException($"{where}.value: '{rule.Value}' is not a number, and column '{column.Name}' is numeric");
                    }
                    else
                    {
                        stage._stringFill[i] = rule.Value;
                    }
                }
            }

            return stage;
        }

        public override void Observe(Row row)
        {
            for (var i = 0; i < _columns.Length; i++)
            {
                var c = _columns[i];
                if (Input.Columns[c].Kind.IsNumeric())
                {
                    _statistics[i].Add(row.Numbers[c], keepValues: _strategy is "median" or "mode");
                }
                else
                {
                    _statistics[i].Add(row.Strings[c]);
                }
            }
        }

        public override void Conclude()
        {
            for (var i = 0; i < _columns.Length; i++)
            {
                var numeric = Input.Columns[_columns[i]].Kind.IsNumeric();
                switch (_strategy)
                {
                    case "mean":
                        _numberFill[i] = _statistics[i].Mean;
                        break;
                    case "median":
                        _numberFill[i] = _statistics[i].Quantile(0.5);
                        break;
                    case "mode" when numeric:
                        _numberFill[i] = _statistics[i].NumberMode;
                        break;
                    default:
                        _stringFill[i] = _statistics[i].StringMode;
                        break;
                }
            }
        }

        public override Row Apply(Row row)
        {
            for (var i = 0; i < _columns.Length; i++)
            {
                var c = _columns[i];
                if (Input.Columns[c].Kind.IsNumeric())
                {
                    if (double.IsNaN(row.Numbers[c]))
                    {
                        row.Numbers[c] = _numberFill[i];
                    }
                }
                else
                {
                    row.Strings[c] ??= _stringFill[i];
                }
            }

            return row;
        }
    }

    private sealed class Outliers : Stage
    {
        private readonly int[] _columns;
        private readonly bool _clip;
        private readonly bool _iqr;
        private readonly double _factor;
        private readonly double[] _low;
        private readonly double[] _high;
        private readonly ColumnStatistics[] _statistics;

        private Outliers(DataSchema schema, int[] columns, bool clip, bool iqr, double factor, double min, double max)
            : base(schema, schema)
        {
            _columns = columns;
            _clip = clip;
            _iqr = iqr;
            _factor = factor;
            _low = [.. columns.Select(_ => min)];
            _high = [.. columns.Select(_ => max)];
            _statistics = [.. columns.Select(_ => new ColumnStatistics())];
        }

        public override bool NeedsStatistics => _iqr;

        public static Outliers Create(string where, CleansingRule rule, DataSchema schema, int[] columns, bool clip)
        {
            var method = rule.Method?.Trim().ToLowerInvariant() ?? "iqr";
            if (method == "iqr")
            {
                var factor = rule.Factor ?? 1.5;
                return double.IsFinite(factor) && factor >= 0
                    ? new Outliers(schema, columns, clip, iqr: true, factor, double.NegativeInfinity, double.PositiveInfinity)
                    : throw new DatasetFormatException($"{where}.factor: must be a number of at least 0 (the IQR multiple beyond the quartiles; default 1.5)");
            }

            if (method == "bounds")
            {
                CheckBounds(where, rule);
                return new Outliers(schema, columns, clip, iqr: false, 0, rule.Min ?? double.NegativeInfinity, rule.Max ?? double.PositiveInfinity);
            }

            throw new DatasetFormatException($"{where}.method: use iqr or bounds");
        }

        public override void Observe(Row row)
        {
            for (var i = 0; i < _columns.Length; i++)
            {
                _statistics[i].Add(row.Numbers[_columns[i]], keepValues: true);
            }
        }

        public override void Conclude()
        {
            for (var i = 0; i < _columns.Length; i++)
            {
                var q1 = _statistics[i].Quantile(0.25);
                var q3 = _statistics[i].Quantile(0.75);
                var spread = (q3 - q1) * _factor;
                _low[i] = double.IsNaN(q1) ? double.NegativeInfinity : q1 - spread;
                _high[i] = double.IsNaN(q3) ? double.PositiveInfinity : q3 + spread;
            }
        }

        public override Row? Apply(Row row)
        {
            for (var i = 0; i < _columns.Length; i++)
            {
                var value = row.Numbers[_columns[i]];
                if (double.IsNaN(value) || (value >= _low[i] && value <= _high[i]))
                {
                    continue;
                }

                if (!_clip)
                {
                    return null;
                }

                row.Numbers[_columns[i]] = Math.Clamp(value, _low[i], _high[i]);
            }

            return row;
        }
    }

    private sealed class FilterRange(DataSchema schema, int[] columns, double min, double max) : Stage(schema, schema)
    {
        public static FilterRange Create(string where, CleansingRule rule, DataSchema schema, int[] columns)
        {
            CheckBounds(where, rule);
            return new FilterRange(schema, columns, rule.Min ?? double.NegativeInfinity, rule.Max ?? double.PositiveInfinity);
        }

        /// <summary>A missing value is outside every declared range: drop or fill missing values first to keep them.</summary>
        public override Row? Apply(Row row) =>
            columns.All(c => row.Numbers[c] >= min && row.Numbers[c] <= max) ? row : null;
    }

    private sealed class DropDuplicates(DataSchema schema, int[] columns) : Stage(schema, schema)
    {
        private readonly HashSet<UInt128> _seen = [];

        public override void BeginPass() => _seen.Clear();

        public override Row? Apply(Row row)
        {
            var key = new StringBuilder();
            foreach (var c in columns)
            {
                key.Append(Input.Columns[c].Kind.IsNumeric() ? TabularWriter.FormatNumber(row.Numbers[c]) : row.Strings[c] is { } s ? "=" + s : "\0");
                key.Append('\u001f');
            }

            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(Encoding.UTF8.GetBytes(key.ToString()), hash);
            return _seen.Add(System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(hash)) ? row : null;
        }
    }

    private sealed class Cast(DataSchema input, DataSchema output, int[] columns) : Stage(input, output)
    {
        public static Cast Create(string where, CleansingRule rule, DataSchema schema, int[] columns)
        {
            if (!ColumnKinds.TryParse(rule.Kind, out var kind) || kind is ColumnKind.Ignore)
            {
                throw new DatasetFormatException($"{where}.kind: cast to numeric, categorical, text, boolean or datetime");
            }

            var output = schema.Columns.ToArray();
            foreach (var c in columns)
            {
                output[c] = output[c] with { Kind = kind, Categories = null };
            }

            return new Cast(schema, new DataSchema(output), columns);
        }

        public override Row Apply(Row row)
        {
            foreach (var c in columns)
            {
                var from = Input.Columns[c].Kind.IsNumeric();
                var to = Output.Columns[c].Kind.IsNumeric();
                if (from && !to)
                {
                    row.Strings[c] = double.IsNaN(row.Numbers[c]) ? null : TabularWriter.FormatNumber(row.Numbers[c]);
                    row.Numbers[c] = double.NaN;
                }
                else if (!from && to)
                {
                    row.Numbers[c] = double.TryParse(row.Strings[c], NumberStyles.Float, CultureInfo.InvariantCulture, out var number) ? number : double.NaN;
                    row.Strings[c] = null;
                }
            }

            return row;
        }
    }

    private sealed class DropColumns(DataSchema input, DataSchema output, int[] kept) : Stage(input, output)
    {
        public static DropColumns Create(string where, DataSchema schema, int[] dropped)
        {
            int[] kept = [.. Enumerable.Range(0, schema.Columns.Count).Where(c => !dropped.Contains(c))];
            return kept.Length == 0
                ? throw new DatasetFormatException($"{where}.columns: dropping every column leaves nothing")
                : new DropColumns(schema, new DataSchema([.. kept.Select(c => schema.Columns[c])]), kept);
        }

        public override Row Apply(Row row) =>
            new([.. kept.Select(c => row.Numbers[c])], [.. kept.Select(c => row.Strings[c])]);
    }

    private static void CheckBounds(string where, CleansingRule rule)
    {
        if (rule.Min is null && rule.Max is null)
        {
            throw new DatasetFormatException($"{where}: give min, max or both");
        }

        if (rule.Min is { } min && rule.Max is { } max && min > max)
        {
            throw new DatasetFormatException($"{where}: min {min} is above max {max}");
        }
    }

    /// <summary>Running statistics of one column in a fixed order, so results are reproducible.</summary>
    private sealed class ColumnStatistics
    {
        private readonly List<double> _values = [];
        private readonly Dictionary<string, long> _strings = new(StringComparer.Ordinal);
        private double _sum;
        private double _compensation;
        private long _count;
        private bool _sorted;

        public double Mean => _count == 0 ? double.NaN : (_sum + _compensation) / _count;

        public double NumberMode
        {
            get
            {
                Sort();
                double best = double.NaN;
                long bestRun = 0;
                for (var i = 0; i < _values.Count;)
                {
                    var j = i;
                    while (j < _values.Count && _values[j].Equals(_values[i]))
                    {
                        j++;
                    }

                    // Ties go to the smallest value: the values are sorted and only a longer run wins.
                    if (j - i > bestRun)
                    {
                        (best, bestRun) = (_values[i], j - i);
                    }

                    i = j;
                }

                return best;
            }
        }

        public string? StringMode => _strings.Count == 0
            ? null
            : _strings.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).First().Key;

        public void Add(double value, bool keepValues)
        {
            if (double.IsNaN(value))
            {
                return;
            }

            // Neumaier summation: the mean does not drift with the order of magnitude of the values.
            var total = _sum + value;
            _compensation += Math.Abs(_sum) >= Math.Abs(value) ? (_sum - total) + value : (value - total) + _sum;
            _sum = total;
            _count++;
            if (keepValues)
            {
                _values.Add(value);
                _sorted = false;
            }
        }

        public void Add(string? value)
        {
            if (value is not null)
            {
                _strings[value] = _strings.GetValueOrDefault(value) + 1;
            }
        }

        /// <summary>The <paramref name="p"/> quantile by linear interpolation between order statistics (R type 7); NaN with no values.</summary>
        public double Quantile(double p)
        {
            Sort();
            if (_values.Count == 0)
            {
                return double.NaN;
            }

            var position = p * (_values.Count - 1);
            var lower = (int)Math.Floor(position);
            var upper = Math.Min(lower + 1, _values.Count - 1);
            return _values[lower] + ((position - lower) * (_values[upper] - _values[lower]));
        }

        private void Sort()
        {
            if (!_sorted)
            {
                _values.Sort();
                _sorted = true;
            }
        }
    }
}
