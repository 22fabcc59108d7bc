using System.Globalization;
using System.Text;

namespace EdgePlatform.Training.Data;

/// <summary>
/// Weka's ARFF: a header (@relation, @attribute name type, @data) whose types are declared, so
/// nothing is inferred: numeric/real/integer → numeric, nominal {a, 'b c'} → categorical with
/// its categories, string → text, date [format] → date-time. Rows are dense (comma-separated)
/// or sparse ({index value, ...}, omitted values are 0: the first category of a nominal, 0 for
/// numbers, the epoch for dates, an empty string for strings). '?' is missing; '%' starts a
/// comment; keywords are case-insensitive; an instance weight ({w} after a row) is skipped.
/// </summary>
internal sealed class ArffReader : ITabularReader
{
    private const string DefaultDateFormat = "yyyy-MM-dd'T'HH:mm:ss";

    private readonly StreamReader _reader;
    private readonly string _source;
    private readonly List<Attribute> _attributes = [];
    private readonly int[] _fieldToColumn;
    private readonly DataBatch _batch;
    private readonly TextCellParser _fallback;
    private readonly string?[] _values;
    private readonly bool[] _quoted;
    private long _line;

    public ArffReader(Stream stream, TabularReadOptions options)
    {
        _source = options.SourceName;
        _reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        ReadHeader();
        (Schema, _fieldToColumn) = SchemaResolver.Resolve(
            _source,
            [.. _attributes.Select(a => a.Name)],
            i => _attributes[i].Kind,
            options,
            i => _attributes[i].Categories);

        // A column overridden to another kind than its declared type is converted from its text like CSV.
        var fallbackOptions = options.WithSource(_source);
        fallbackOptions.MissingTokens = [];
        fallbackOptions.DecimalSeparator = '.';
        _fallback = new TextCellParser(fallbackOptions, Schema);
        _batch = new DataBatch(Schema, options.BatchSize);
        _values = new string?[_attributes.Count];
        _quoted = new bool[_attributes.Count];
    }

    public DataSchema Schema { get; }

    public DataBatch? ReadBatch(CancellationToken cancellationToken = default)
    {
        var batch = _batch;
        var row = 0;
        while (row < batch.Capacity && ReadDataLine(out var line))
        {
            if ((row & 1023) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            ParseRow(line);
            if (row == 0)
            {
                batch.FirstLine = _line;
            }

            for (var field = 0; field < _attributes.Count; field++)
            {
                var column = _fieldToColumn[field];
                if (column >= 0)
                {
                    Store(batch, column, row, field);
                }
            }

            row++;
        }

        batch.RowCount = row;
        return row == 0 ? null : batch;
    }

    public void Dispose() => _reader.Dispose();

    private void ReadHeader()
    {
        var sawRelation = false;
        while (true)
        {
            var line = _reader.ReadLine();
            _line++;
            if (line is null)
            {
                throw _line == 1 && !sawRelation
                    ? DataErrors.File(_source, "the file is empty; an ARFF file starts with @relation, then @attribute lines and @data.")
                    : DataErrors.AtLine(_source, _line, null, "the file ends before @data; an ARFF header is @relation, @attribute lines, then @data and the rows.");
            }

            var text = line.Trim();
            if (text.Length == 0 || text[0] == '%')
            {
                continue;
            }

            var scanner = new Scanner(text, _source, _line);
            var keyword = scanner.Word();
            if (keyword.Equals("@relation", StringComparison.OrdinalIgnoreCase))
            {
                scanner.Token("the relation name", stopAtSpace: true);
                sawRelation = true;
            }
            else if (keyword.Equals("@attribute", StringComparison.OrdinalIgnoreCase))
            {
                if (!sawRelation)
                {
                    throw DataErrors.AtLine(_source, _line, null, "@attribute before @relation; an ARFF file starts with @relation NAME.");
                }

                _attributes.Add(ReadAttribute(ref scanner));
            }
            else if (keyword.Equals("@data", StringComparison.OrdinalIgnoreCase))
            {
                if (_attributes.Count == 0)
                {
                    throw DataErrors.AtLine(_source, _line, null, "@data before any @attribute; declare the columns first.");
                }

                return;
            }
            else
            {
                throw DataErrors.AtLine(_source, _line, null, $"expected @relation, @attribute or @data, found {DataErrors.Quote(keyword)}.");
            }
        }
    }

    private Attribute ReadAttribute(ref Scanner scanner)
    {
        var name = scanner.Token("the attribute name", stopAtSpace: true).Text;
        scanner.SkipSpace();
        if (scanner.Peek() == '{')
        {
            scanner.Expect('{');
            var categories = new List<string>();
            while (true)
            {
                var value = scanner.Token($"a value of the nominal attribute '{name}'", stopAtBrace: true);
                categories.Add(value.Text);
                scanner.SkipSpace();
                if (scanner.Peek() == ',')
                {
                    scanner.Expect(',');
                    continue;
                }

                scanner.Expect('}');
                break;
            }

            return new Attribute(name, ColumnKind.Categorical, categories, null);
        }

        var type = scanner.Word();
        switch (type.ToLowerInvariant())
        {
            case "numeric" or "real" or "integer":
                return new Attribute(name, ColumnKind.Numeric, null, null);
            case "string":
                return new Attribute(name, ColumnKind.Text, null, null);
            case "date":
                {
                    scanner.SkipSpace();
                    var format = scanner.AtEnd ? DefaultDateFormat : scanner.Token("the date format").Text;
                    try
                    {
                        return new Attribute(name, ColumnKind.DateTime, null, JavaDateFormat.ToDotNet(format));
                    }
                    catch (FormatException e)
                    {
                        throw DataErrors.AtLine(_source, _line, name, $"the date format '{format}' cannot be read: {e.Message}");
                    }
                }

            case "relational":
                throw DataErrors.AtLine(_source, _line, name, "relational (multi-instance) attributes are not supported; flatten the bags into rows first.");
            default:
                throw DataErrors.AtLine(_source, _line, name, $"unknown attribute type {DataErrors.Quote(type)}; ARFF types are numeric, real, integer, string, date [format] and nominal {{a, b, ...}}.");
        }
    }

    private bool ReadDataLine(out string line)
    {
        while (_reader.ReadLine() is { } raw)
        {
            _line++;
            var text = raw.Trim();
            if (text.Length > 0 && text[0] != '%')
            {
                line = text;
                return true;
            }
        }

        line = string.Empty;
        return false;
    }

    private void ParseRow(string line)
    {
        var scanner = new Scanner(line, _source, _line);
        if (scanner.Peek() == '{')
        {
            ParseSparse(ref scanner);
        }
        else
        {
            for (var field = 0; field < _attributes.Count; field++)
            {
                if (field > 0)
                {
                    scanner.SkipSpace();
                    if (scanner.AtEnd || scanner.Peek() == '%')
                    {
                        throw DataErrors.AtLine(_source, _line, _attributes[field].Name, $"the row has {field} values but the header declares {_attributes.Count} attributes.");
                    }

                    scanner.Expect(',');
                }

                var token = scanner.Token($"a value for '{_attributes[field].Name}'");
                _values[field] = token.Text;
                _quoted[field] = token.Quoted;
            }
        }

        scanner.SkipSpace();
        if (!scanner.AtEnd && scanner.Peek() == ',')
        {
            // An instance weight: "..., {0.5}".
            scanner.Expect(',');
            scanner.SkipSpace();
            if (scanner.Peek() == '{')
            {
                scanner.SkipWeight();
            }
            else
            {
                throw DataErrors.AtLine(_source, _line, $"field {_attributes.Count + 1}", $"the row has more values than the {_attributes.Count} attributes the header declares.");
            }
        }
        else if (!scanner.AtEnd && scanner.Peek() == '{')
        {
            scanner.SkipWeight();
        }

        scanner.SkipSpace();
        if (!scanner.AtEnd && scanner.Peek() != '%')
        {
            throw DataErrors.AtLine(_source, _line, null, $"unexpected text after the row's last value: {DataErrors.Quote(line[scanner.Position..])}.");
        }
    }

    private void ParseSparse(ref Scanner scanner)
    {
        for (var field = 0; field < _attributes.Count; field++)
        {
            var attribute = _attributes[field];
            _values[field] = attribute.Kind switch
            {
                ColumnKind.Categorical => attribute.Categories![0],
                ColumnKind.Text => string.Empty,
                ColumnKind.DateTime => "\0epoch",
                _ => "0",
            };
            _quoted[field] = false;
        }

        scanner.Expect('{');
        scanner.SkipSpace();
        while (scanner.Peek() != '}')
        {
            var indexText = scanner.Word();
            if (!int.TryParse(indexText, NumberStyles.None, CultureInfo.InvariantCulture, out var index) || index >= _attributes.Count)
            {
                throw DataErrors.AtLine(_source, _line, null, $"a sparse row's index must be 0 to {_attributes.Count - 1}, found {DataErrors.Quote(indexText)}.");
            }

            var token = scanner.Token($"a value for '{_attributes[index].Name}'", stopAtBrace: true);
            _values[index] = token.Text;
            _quoted[index] = token.Quoted;
            scanner.SkipSpace();
            if (scanner.Peek() == ',')
            {
                scanner.Expect(',');
                scanner.SkipSpace();
            }
            else if (scanner.Peek() != '}')
            {
                throw DataErrors.AtLine(_source, _line, _attributes[index].Name, "a sparse row's pairs are separated by commas and end with '}'.");
            }
        }

        scanner.Expect('}');
    }

    private void Store(DataBatch batch, int column, int row, int field)
    {
        var attribute = _attributes[field];
        var value = _values[field]!;
        var missing = !_quoted[field] && value == "?";
        var kind = Schema.Columns[column].Kind;
        if (kind != attribute.Kind)
        {
            if (missing)
            {
                _fallback.Store(batch, column, row, default, isNull: true, _line);
            }
            else
            {
                _fallback.Store(batch, column, row, Encoding.UTF8.GetBytes(value == "\0epoch" ? "0" : value), isNull: false, _line);
            }

            return;
        }

        switch (kind)
        {
            case ColumnKind.Numeric:
                batch.Numbers[column]![row] = missing ? double.NaN
                    : double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) ? number
                    : throw DataErrors.AtLine(_source, _line, attribute.Name, $"{DataErrors.Quote(value)} is not a number, but the attribute is declared numeric.");
                break;
            case ColumnKind.DateTime:
                batch.Numbers[column]![row] = missing ? double.NaN
                    : value == "\0epoch" ? 0
                    : DateTimeOffset.TryParseExact(value, attribute.DateFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date) ? TextCellParser.ToUnixSeconds(date)
                    : throw DataErrors.AtLine(_source, _line, attribute.Name, $"{DataErrors.Quote(value)} does not match the attribute's date format '{attribute.DateFormat}'.");
                break;
            case ColumnKind.Categorical:
                batch.Strings[column]![row] = missing ? null
                    : attribute.Lookup!.TryGetValue(value, out var category) ? category
                    : throw DataErrors.AtLine(_source, _line, attribute.Name, $"{DataErrors.Quote(value)} is not one of the attribute's declared values {{{string.Join(", ", attribute.Categories!)}}}.");
                break;
            default:
                batch.Strings[column]![row] = missing ? null : value;
                break;
        }
    }

    private sealed class Attribute
    {
        public Attribute(string name, ColumnKind kind, IReadOnlyList<string>? categories, string? dateFormat)
        {
            Name = name;
            Kind = kind;
            Categories = categories;
            DateFormat = dateFormat;
            Lookup = categories?.Distinct(StringComparer.Ordinal).ToDictionary(c => c, StringComparer.Ordinal);
        }

        public string Name { get; }

        public ColumnKind Kind { get; }

        public IReadOnlyList<string>? Categories { get; }

        public string? DateFormat { get; }

        public Dictionary<string, string>? Lookup { get; }
    }

    /// <summary>Splits one ARFF line into words and values: quoted with ' or " (backslash escapes inside), or bare up to a comma, brace, space or '%'.</summary>
    private ref struct Scanner
    {
        private readonly string _text;
        private readonly string _source;
        private readonly long _line;

        public Scanner(string text, string source, long line)
        {
            _text = text;
            _source = source;
            _line = line;
            Position = 0;
        }

        public int Position { get; private set; }

        public readonly bool AtEnd => Position >= _text.Length;

        public readonly char Peek() => AtEnd ? '\0' : _text[Position];

        public void SkipSpace()
        {
            while (!AtEnd && char.IsWhiteSpace(_text[Position]))
            {
                Position++;
            }
        }

        public void Expect(char c)
        {
            SkipSpace();
            if (Peek() != c)
            {
                throw DataErrors.AtLine(_source, _line, null, AtEnd ? $"expected '{c}' but the line ends." : $"expected '{c}' at character {Position + 1}, found '{Peek()}'.");
            }

            Position++;
        }

        public string Word()
        {
            SkipSpace();
            var start = Position;
            while (!AtEnd && !char.IsWhiteSpace(_text[Position]) && _text[Position] is not (',' or '{' or '}' or '%'))
            {
                Position++;
            }

            return _text[start..Position];
        }

        public (string Text, bool Quoted) Token(string what, bool stopAtBrace = false, bool stopAtSpace = false)
        {
            SkipSpace();
            if (AtEnd)
            {
                throw DataErrors.AtLine(_source, _line, null, $"expected {what} but the line ends.");
            }

            var quote = _text[Position];
            if (quote is '\'' or '"')
            {
                Position++;
                var builder = new StringBuilder();
                while (true)
                {
                    if (AtEnd)
                    {
                        throw DataErrors.AtLine(_source, _line, null, $"a quoted value ({what}) is never closed with {quote}.");
                    }

                    var c = _text[Position++];
                    if (c == quote)
                    {
                        return (builder.ToString(), true);
                    }

                    if (c == '\\' && !AtEnd)
                    {
                        var escaped = _text[Position++];
                        builder.Append(escaped switch
                        {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            _ => escaped,
                        });
                        continue;
                    }

                    builder.Append(c);
                }
            }

            var start = Position;
            while (!AtEnd && _text[Position] is not (',' or '%')
                && !(_text[Position] is '{' or '}' && (stopAtBrace || _text[Position] == '{'))
                && !(stopAtSpace && char.IsWhiteSpace(_text[Position])))
            {
                Position++;
            }

            var bare = _text[start..Position].TrimEnd();
            if (bare.Length == 0)
            {
                throw DataErrors.AtLine(_source, _line, null, $"expected {what} at character {start + 1}.");
            }

            return (bare, false);
        }

        public void SkipWeight()
        {
            Expect('{');
            while (!AtEnd && _text[Position] != '}')
            {
                Position++;
            }

            Expect('}');
        }
    }
}

/// <summary>Translates the subset of Java's SimpleDateFormat that ARFF files use into a .NET custom format.</summary>
internal static class JavaDateFormat
{
    public static string ToDotNet(string java)
    {
        var result = new StringBuilder();
        for (var i = 0; i < java.Length;)
        {
            var c = java[i];
            if (c == '\'')
            {
                // 'literal' (and '' for a quote): .NET quotes literals the same way, with \' for a quote.
                var end = java.IndexOf('\'', i + 1);
                if (end == i + 1)
                {
                    result.Append("\\'");
                    i += 2;
                    continue;
                }

                end = end < 0 ? java.Length : end;
                result.Append('\'').Append(java, i + 1, end - i - 1).Append('\'');
                i = end + 1;
                continue;
            }

            var run = 1;
            while (i + run < java.Length && java[i + run] == c)
            {
                run++;
            }

            result.Append(c switch
            {
                'y' => run == 2 ? "yy" : "yyyy",
                'M' => new string('M', Math.Min(run, 4)),
                'd' => run >= 2 ? "dd" : "d",
                'H' or 'k' => run >= 2 ? "HH" : "H",
                'h' or 'K' => run >= 2 ? "hh" : "h",
                'm' => run >= 2 ? "mm" : "m",
                's' => run >= 2 ? "ss" : "s",
                'S' => new string('f', Math.Min(run, 7)),
                'a' => "tt",
                'E' => run >= 4 ? "dddd" : "ddd",
                'z' or 'Z' or 'X' => "zzz",
                _ when char.IsAsciiLetter(c) => throw new FormatException($"The date format letter '{c}' is not supported."),
                _ => new string(c, run) is var literal && "/:.-, T".Contains(c, StringComparison.Ordinal) ? literal : $"'{literal}'",
            });
            i += run;
        }

        return result.ToString();
    }
}
