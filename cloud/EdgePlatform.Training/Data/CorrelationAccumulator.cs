namespace EdgePlatform.Training.Data;

/// <summary>
/// Pearson correlation of every pair of numeric columns in one pass: per pair, the count and the
/// sums of x, y, x², y² and xy over rows where both are present. Values are shifted by the
/// column's first value before summing, which keeps the sums small and the subtraction in r
/// accurate for data far from zero. O(k²) per row; with more than <c>maxColumns</c> columns only
/// every s-th row is summed, s = ⌈(k / maxColumns)²⌉, so the cost stays that of maxColumns.
/// </summary>
internal sealed class CorrelationAccumulator
{
    private readonly int[] _columns;
    private readonly double[] _shift;
    private readonly bool[] _shiftSet;
    private readonly double[,] _sums;
    private long _rowsSeen;

    public CorrelationAccumulator(IReadOnlyList<int> columns, int maxColumns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        _columns = [.. columns];
        _shift = new double[_columns.Length];
        _shiftSet = new bool[_columns.Length];
        var pairs = _columns.Length * (_columns.Length - 1) / 2;
        _sums = new double[pairs, 6];
        var ratio = (double)_columns.Length / maxColumns;
        Stride = ratio <= 1 ? 1 : (int)Math.Ceiling(ratio * ratio);
    }

    /// <summary>Every Stride-th row is summed; 1 when every row is.</summary>
    public int Stride { get; }

    public void Add(DataBatch batch)
    {
        var rows = batch.RowCount;
        var start = (int)((Stride - (_rowsSeen % Stride)) % Stride);
        _rowsSeen += rows;
        if (_columns.Length < 2 || start >= rows)
        {
            return;
        }

        for (var c = 0; c < _columns.Length; c++)
        {
            if (!_shiftSet[c])
            {
                var values = batch.Numbers[_columns[c]]!;
                for (var r = 0; r < rows; r++)
                {
                    if (!double.IsNaN(values[r]))
                    {
                        _shift[c] = values[r];
                        _shiftSet[c] = true;
                        break;
                    }
                }
            }
        }

        var pair = 0;
        for (var a = 0; a < _columns.Length; a++)
        {
            var x = batch.Numbers[_columns[a]]!;
            var shiftX = _shift[a];
            for (var b = a + 1; b < _columns.Length; b++, pair++)
            {
                var y = batch.Numbers[_columns[b]]!;
                var shiftY = _shift[b];
                double n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
                for (var r = start; r < rows; r += Stride)
                {
                    var dx = x[r] - shiftX;
                    var dy = y[r] - shiftY;

                    // Missing (NaN) or infinite in either: the row does not count for the pair.
                    if (double.IsFinite(dx) && double.IsFinite(dy))
                    {
                        n++;
                        sx += dx;
                        sy += dy;
                        sxx += dx * dx;
                        syy += dy * dy;
                        sxy += dx * dy;
                    }
                }

                _sums[pair, 0] += n;
                _sums[pair, 1] += sx;
                _sums[pair, 2] += sy;
                _sums[pair, 3] += sxx;
                _sums[pair, 4] += syy;
                _sums[pair, 5] += sxy;
            }
        }
    }

    /// <summary>Every pair (as indices into the columns given) with its r and the rows it was computed on; r is null when either column is constant over those rows.</summary>
    public IEnumerable<(int First, int Second, double? R, long Rows)> Pairs()
    {
        var pair = 0;
        for (var a = 0; a < _columns.Length; a++)
        {
            for (var b = a + 1; b < _columns.Length; b++, pair++)
            {
                var n = _sums[pair, 0];
                var covariance = _sums[pair, 5] - (_sums[pair, 1] * _sums[pair, 2] / n);
                var varianceX = _sums[pair, 3] - (_sums[pair, 1] * _sums[pair, 1] / n);
                var varianceY = _sums[pair, 4] - (_sums[pair, 2] * _sums[pair, 2] / n);
                // A column constant over the pair's rows leaves only rounding in its variance.
                double? r = n < 2 || varianceX <= 1e-12 * _sums[pair, 3] || varianceY <= 1e-12 * _sums[pair, 4]
                    ? null
                    : Math.Clamp(covariance / Math.Sqrt(varianceX * varianceY), -1, 1);
                yield return (_columns[a], _columns[b], r, (long)n);
            }
        }
    }
}
