using System.Buffers;
using System.Globalization;
using System.Text;

namespace EdgePlatform.Training.Data;

/// <summary>
/// Turns the UTF-8 text of one cell into a <see cref="DataBatch"/> value for its column's kind,
/// for the text formats (CSV, TSV, JSON lines), and decides kinds from a sample. Numbers are
/// parsed straight from the bytes: no string is made for a numeric, boolean or date-time cell.
/// </summary>
internal sealed class TextCellParser
{
    // Categorical values repeat: one string per distinct value instead of one per cell, up to this many per column.
    private const int MaxInternedPerColumn = 10_000;

    private readonly MissingValues _missing;
    private readonly bool _emptyIsMissing;
    private readonly NumberFormatInfo _numbers;
    private readonly TabularReadOptions _options;
    private readonly Dictionary<string, string>?[] _interned;
    private readonly ColumnKind[] _kinds;
    private readonly byte _decimalSeparator;

    // Powers of ten that a double holds exactly (Clinger's fast path).
    private static readonly double[] ExactPowersOfTen =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];

    public TextCellParser(TabularReadOptions options, DataSchema schema)
    {
        _options = options;
        _missing = new MissingValues(options.MissingTokens);
        _emptyIsMissing = _missing.EmptyIsMissing;
        _numbers = NumberFormat(options.DecimalSeparator);
        Schema = schema;
        _decimalSeparator = (byte)options.DecimalSeparator;
        _kinds = [.. schema.Columns.Select(c => c.Kind)];
        _interned = new Dictionary<string, string>?[schema.Columns.Count];
        for (var i = 0; i < schema.Columns.Count; i++)
        {
            if (schema.Columns[i].Kind == ColumnKind.Categorical)
            {
                _interned[i] = new Dictionary<string, string>(StringComparer.Ordinal);
            }
        }
    }

    public DataSchema Schema { get; }

    /// <summary>Whether the locations given to <see cref="Store"/> are row numbers of a binary format rather than text lines.</summary>
    public bool LocationIsRow { get; init; }

    public static NumberFormatInfo NumberFormat(char decimalSeparator)
    {
        var format = (NumberFormatInfo)NumberFormatInfo.InvariantInfo.Clone();
        format.NumberDecimalSeparator = decimalSeparator.ToString();
        format.NumberGroupSeparator = decimalSeparator == ',' ? "." : ",";
        return format;
    }

    public bool IsMissing(ReadOnlySpan<byte> value) => _missing.Matches(value);

    /// <summary>
    /// Stores <paramref name="value"/> (null: a JSON null) at <paramref name="row"/> of column
    /// <paramref name="column"/>, or throws naming the line, column and value.
    /// </summary>
    public void Store(DataBatch batch, int column, int row, ReadOnlySpan<byte> value, bool isNull, long line)
    {
        switch (_kinds[column])
        {
            case ColumnKind.Numeric:
                {
                    var numbers = batch.Numbers[column]!;
                    if (isNull || (value.IsEmpty && _emptyIsMissing))
                    {
                        numbers[row] = double.NaN;
                    }
                    else if (TryParsePlainDecimal(value, _decimalSeparator, out var number) || double.TryParse(value, NumberStyles.Float, _numbers, out number))
                    {
                        numbers[row] = number;
                    }
                    else if (IsMissing(value))
                    {
                        numbers[row] = double.NaN;
                    }
                    else
                    {
                        throw Mismatch(column, value, line, "a number");
                    }

                    break;
                }

            case ColumnKind.Boolean:
                batch.Numbers[column]![row] = isNull || IsMissing(value) ? double.NaN
                    : TryParseBoolean(value, acceptDigits: true) is { } flag ? (flag ? 1.0 : 0.0)
                    : throw Mismatch(column, value, line, "true/false, yes/no or 1/0");
                break;

            case ColumnKind.DateTime:
                batch.Numbers[column]![row] = isNull || IsMissing(value) ? double.NaN
                    : TryParseIsoDateTime(value, out var seconds) ? seconds
                    : throw Mismatch(column, value, line, "an ISO-8601 date or date-time (2024-03-01 or 2024-03-01T12:00:00Z)");
                break;

            case ColumnKind.Categorical:
                batch.Strings[column]![row] = isNull || IsMissing(value) ? null : Intern(column, value);
                break;

            case ColumnKind.Text:
                batch.Strings[column]![row] = isNull || IsMissing(value) ? null : Encoding.UTF8.GetString(value);
                break;

            case ColumnKind.Ignore:
            default:
                break;
        }
    }

    private DatasetFormatException Mismatch(int column, ReadOnlySpan<byte> value, long line, string expected)
    {
        var name = Schema.Columns[column].Name;
        var how = _options.Overrides.ContainsKey(name) ? "as overridden" : string.Create(CultureInfo.InvariantCulture, $"as inferred from the first {_options.InferenceRows} rows");
        var message = $"{DataErrors.Quote(Encoding.UTF8.GetString(value))} is not {expected}, but the column is {Schema.Columns[column].Kind.Name()} ({how}); fix the value, or set the column's kind with an override (text reads anything).";
        return LocationIsRow
            ? DataErrors.AtRow(_options.SourceName, line, name, message)
            : DataErrors.AtLine(_options.SourceName, line, name, message);
    }

    private string Intern(int column, ReadOnlySpan<byte> value)
    {
        var interned = _interned[column]!;
        char[]? rented = null;
        var chars = value.Length <= 256 ? stackalloc char[value.Length] : (rented = ArrayPool<char>.Shared.Rent(value.Length));
        try
        {
            var length = Encoding.UTF8.GetChars(value, chars);
            var text = chars[..length];
            var lookup = interned.GetAlternateLookup<ReadOnlySpan<char>>();
            if (lookup.TryGetValue(text, out var existing))
            {
                return existing;
            }

            var created = new string(text);
            if (interned.Count < MaxInternedPerColumn)
            {
                interned[created] = created;
            }

            return created;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// The common case of a number in a data file, [-+]digits[.digits] with at most 19 digits, whose
    /// digits fit a double's 53-bit mantissa and whose scale is at most 22: then one division of
    /// two exactly represented doubles is correctly rounded, and equals what
    /// <see cref="double.Parse(string)"/> gives, several times faster. Anything else returns false
    /// for the general parser to handle (exponents, spaces, long digit strings, infinities).
    /// </summary>
    public static bool TryParsePlainDecimal(ReadOnlySpan<byte> text, byte decimalSeparator, out double value)
    {
        value = 0;
        var i = 0;
        var negative = false;
        if (text.Length > 0 && text[0] is (byte)'-' or (byte)'+')
        {
            negative = text[0] == '-';
            i = 1;
        }

        ulong mantissa = 0;
        int digits = 0, scale = 0;
        var point = false;
        for (; i < text.Length; i++)
        {
            var digit = (uint)(text[i] - '0');
            if (digit <= 9)
            {
                if (++digits > 19)
                {
                    return false;
                }

                mantissa = (mantissa * 10) + digit;
                if (point)
                {
                    scale++;
                }
            }
            else if (text[i] == decimalSeparator && !point)
            {
                point = true;
            }
            else
            {
                return false;
            }
        }

        if (digits == 0 || mantissa > (1UL << 53) || scale > 22)
        {
            return false;
        }

        var result = (double)mantissa;
        if (scale > 0)
        {
            result /= ExactPowersOfTen[scale];
        }

        value = negative ? -result : result;
        return true;
    }

    /// <summary>true/false, yes/no (any case), and with <paramref name="acceptDigits"/> also 1/0; null when it is none of them.</summary>
    public static bool? TryParseBoolean(ReadOnlySpan<byte> value, bool acceptDigits)
    {
        value = value.Trim(" \t"u8);
        if (Ascii.EqualsIgnoreCase(value, "true"u8) || Ascii.EqualsIgnoreCase(value, "yes"u8))
        {
            return true;
        }

        if (Ascii.EqualsIgnoreCase(value, "false"u8) || Ascii.EqualsIgnoreCase(value, "no"u8))
        {
            return false;
        }

        if (acceptDigits && value.Length == 1 && value[0] is (byte)'0' or (byte)'1')
        {
            return value[0] == (byte)'1';
        }

        return null;
    }

    /// <summary>
    /// An ISO-8601 date (yyyy-MM-dd) or date-time (T or a space, optional seconds, fraction and
    /// offset; no offset means UTC), as seconds since the Unix epoch.
    /// </summary>
    public static bool TryParseIsoDateTime(ReadOnlySpan<byte> value, out double secondsSinceEpoch)
    {
        secondsSinceEpoch = double.NaN;
        value = value.Trim(" \t"u8);
        if (value.Length is < 10 or > 64 || !LooksIso(value))
        {
            return false;
        }

        Span<char> chars = stackalloc char[value.Length];
        for (var i = 0; i < value.Length; i++)
        {
            chars[i] = (char)value[i];
        }

        if (!DateTimeOffset.TryParse(chars, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AllowWhiteSpaces, out var parsed))
        {
            return false;
        }

        secondsSinceEpoch = ToUnixSeconds(parsed);
        return true;
    }

    public static double ToUnixSeconds(DateTimeOffset value) => (value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / (double)TimeSpan.TicksPerSecond;

    // yyyy-MM-dd, then nothing or [T ]HH:mm; keeps DateTimeOffset.TryParse from reading "3/4" or "12" as dates.
    private static bool LooksIso(ReadOnlySpan<byte> v)
    {
        static bool Digits(ReadOnlySpan<byte> s) => s.IndexOfAnyExceptInRange((byte)'0', (byte)'9') < 0;
        if (!Digits(v[..4]) || v[4] != '-' || !Digits(v[5..7]) || v[7] != '-' || !Digits(v[8..10]))
        {
            return false;
        }

        if (v.Length == 10)
        {
            return true;
        }

        return v.Length >= 16 && v[10] is (byte)'T' or (byte)' ' && Digits(v.Slice(11, 2)) && v[13] == ':' && Digits(v.Slice(14, 2));
    }

    /// <summary>
    /// The kind of a column from its sample (null entries: missing): numeric when every value
    /// parses as a number, boolean for true/false/yes/no, date-time for ISO-8601, categorical for
    /// few distinct strings, text otherwise. A column with no values in the sample is text.
    /// </summary>
    public static ColumnKind Infer(IEnumerable<byte[]?> sample, TabularReadOptions options, NumberFormatInfo numbers)
    {
        bool numeric = true, boolean = true, dateTime = true;
        var count = 0;
        var distinct = new HashSet<string>(StringComparer.Ordinal);
        var tooManyDistinct = false;
        foreach (var value in sample)
        {
            if (value is null)
            {
                continue;
            }

            count++;
            numeric = numeric && double.TryParse(value, NumberStyles.Float, numbers, out _);
            boolean = boolean && TryParseBoolean(value, acceptDigits: false) is not null;
            dateTime = dateTime && TryParseIsoDateTime(value, out _);
            if (!tooManyDistinct)
            {
                distinct.Add(Encoding.UTF8.GetString(value));
                tooManyDistinct = distinct.Count > options.CategoricalMaxDistinct;
            }
        }

        return InferFrom(count, numeric, boolean, dateTime, tooManyDistinct ? int.MaxValue : distinct.Count, options);
    }

    /// <summary>Categorical or text for a column of strings from its sample counts.</summary>
    public static ColumnKind StringKind(int count, int distinct, TabularReadOptions options) =>
        count > 0 && distinct <= options.CategoricalMaxDistinct && distinct <= options.CategoricalMaxDistinctFraction * count
            ? ColumnKind.Categorical
            : ColumnKind.Text;

    private static ColumnKind InferFrom(int count, bool numeric, bool boolean, bool dateTime, int distinct, TabularReadOptions options) =>
        count == 0 ? ColumnKind.Text
        : numeric ? ColumnKind.Numeric
        : boolean ? ColumnKind.Boolean
        : dateTime ? ColumnKind.DateTime
        : StringKind(count, distinct, options);
}

/// <summary>The configured missing-value tokens, matched exactly against UTF-8 cell text.</summary>
internal sealed class MissingValues
{
    private readonly byte[][] _tokens;

    public MissingValues(IEnumerable<string> tokens)
    {
        var list = tokens.ToList();
        _tokens = [.. list.Where(t => t.Length > 0).Select(Encoding.UTF8.GetBytes)];
        EmptyIsMissing = list.Contains(string.Empty);
    }

    public bool EmptyIsMissing { get; }

    public bool Matches(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return EmptyIsMissing;
        }

        foreach (var token in _tokens)
        {
            if (value.SequenceEqual(token))
            {
                return true;
            }
        }

        return false;
    }
}
