using System.Globalization;
using System.Text;

namespace EdgePlatform.ControlPlane.Rollouts;

/// <summary>
/// A device group by tags. Grammar (keywords are case-insensitive; <c>,</c> outside a list means <c>and</c>):
/// <code>
/// expr  := and ( "or" and )*
/// and   := term ( ( "and" | "," ) term )*
/// term  := "(" expr ")" | key "=" value | key "!=" value | key "in" "(" value ( "," value )* ")"
/// </code>
/// Keys and values are runs of letters, digits and <c>_ . - / :</c>, or double-quoted strings.
/// <c>and</c> binds tighter than <c>or</c>. A device without the key never equals a value and is
/// never in a list; <c>k!=v</c> holds for it.
/// A selector is at most <see cref="MaxLength"/> characters with at most <see cref="MaxDepth"/>
/// nested parentheses: matching runs on every rollout tick for every device, and the parse and
/// the match recurse only as deep as the parentheses, so no text can exhaust the stack.
/// </summary>
public sealed class Selector
{
    /// <summary>Longest selector text accepted, in characters.</summary>
    public const int MaxLength = 4096;

    /// <summary>Deepest nesting of parentheses accepted (a list after <c>in</c> does not count).</summary>
    public const int MaxDepth = 16;

    private readonly Node _root;

    private Selector(string text, Node root)
    {
        Text = text;
        _root = root;
    }

    /// <summary>The selector as the operator wrote it.</summary>
    public string Text { get; }

    public override string ToString() => Text;

    public bool Matches(IReadOnlyDictionary<string, string> tags)
    {
        ArgumentNullException.ThrowIfNull(tags);
        return _root.Matches(tags);
    }

    /// <summary>
    /// The <c>selector</c> field of a request (a rollout's, an experiment's): required, and any
    /// syntax error refused as a <see cref="RequestValidationException"/> naming the field.
    /// </summary>
    public static Selector ParseRequestField(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new RequestValidationException("selector", "is required, such as site=berlin and hw in (pi4,pi5)");
        }

        try
        {
            return Parse(text);
        }
        catch (SelectorSyntaxException ex)
        {
            throw new RequestValidationException("selector", ex.Message);
        }
    }

    /// <summary>Parses a selector; a <see cref="SelectorSyntaxException"/> names the position and what was expected.</summary>
    public static Selector Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > MaxLength)
        {
            throw new SelectorSyntaxException(
                MaxLength,
                string.Create(CultureInfo.InvariantCulture, $"a selector of at most {MaxLength} characters"),
                string.Create(CultureInfo.InvariantCulture, $"{text.Length} characters"));
        }

        var parser = new Parser(Lexer.Tokenize(text));
        return new Selector(text.Trim(), parser.ParseAll());
    }

    private abstract record Node
    {
        public abstract bool Matches(IReadOnlyDictionary<string, string> tags);
    }

    private sealed record Equal(string Key, string Value) : Node
    {
        public override bool Matches(IReadOnlyDictionary<string, string> tags) =>
            tags.TryGetValue(Key, out var actual) && string.Equals(actual, Value, StringComparison.Ordinal);
    }

    private sealed record NotEqual(string Key, string Value) : Node
    {
        public override bool Matches(IReadOnlyDictionary<string, string> tags) =>
            !tags.TryGetValue(Key, out var actual) || !string.Equals(actual, Value, StringComparison.Ordinal);
    }

    private sealed record In(string Key, IReadOnlyList<string> Values) : Node
    {
        public override bool Matches(IReadOnlyDictionary<string, string> tags) =>
            tags.TryGetValue(Key, out var actual) && Values.Contains(actual, StringComparer.Ordinal);
    }

    // Flat lists rather than binary trees: a run of thousands of conditions joined by 'and' or
    // 'or' is one loop, not a recursion thousands of calls deep.
    private sealed record And(IReadOnlyList<Node> Terms) : Node
    {
        public override bool Matches(IReadOnlyDictionary<string, string> tags)
        {
            foreach (var term in Terms)
            {
                if (!term.Matches(tags))
                {
                    return false;
                }
            }

            return true;
        }
    }

    private sealed record Or(IReadOnlyList<Node> Terms) : Node
    {
        public override bool Matches(IReadOnlyDictionary<string, string> tags)
        {
            foreach (var term in Terms)
            {
                if (term.Matches(tags))
                {
                    return true;
                }
            }

            return false;
        }
    }

    private enum TokenKind
    {
        Word,
        Quoted,
        Equals,
        NotEquals,
        Open,
        Close,
        Comma,
        End,
    }

    private readonly record struct Token(TokenKind Kind, string Text, int Position)
    {
        public bool IsKeyword(string keyword) => Kind == TokenKind.Word && string.Equals(Text, keyword, StringComparison.OrdinalIgnoreCase);

        public string Describe() => Kind switch
        {
            TokenKind.End => "end of input",
            TokenKind.Quoted => $"\"{Text}\"",
            _ => $"'{Text}'",
        };
    }

    private static class Lexer
    {
        public static List<Token> Tokenize(string text)
        {
            var tokens = new List<Token>();
            var i = 0;
            while (i < text.Length)
            {
                var c = text[i];
                if (char.IsWhiteSpace(c))
                {
                    i++;
                }
                else if (c == '(')
                {
                    tokens.Add(new Token(TokenKind.Open, "(", i++));
                }
                else if (c == ')')
                {
                    tokens.Add(new Token(TokenKind.Close, ")", i++));
                }
                else if (c == ',')
                {
                    tokens.Add(new Token(TokenKind.Comma, ",", i++));
                }
                else if (c == '=')
                {
                    // "==" reads as "=", as in Kubernetes label selectors.
                    var length = i + 1 < text.Length && text[i + 1] == '=' ? 2 : 1;
                    tokens.Add(new Token(TokenKind.Equals, text.Substring(i, length), i));
                    i += length;
                }
                else if (c == '!')
                {
                    if (i + 1 >= text.Length || text[i + 1] != '=')
                    {
                        throw new SelectorSyntaxException(i, "'!=' (a lone '!' is not an operator)", "'!'");
                    }

                    tokens.Add(new Token(TokenKind.NotEquals, "!=", i));
                    i += 2;
                }
                else if (c == '"')
                {
                    var start = i++;
                    var value = new StringBuilder();
                    while (i < text.Length && text[i] != '"')
                    {
                        if (text[i] == '\\' && i + 1 < text.Length)
                        {
                            i++;
                        }

                        value.Append(text[i++]);
                    }

                    if (i >= text.Length)
                    {
                        throw new SelectorSyntaxException(text.Length, $"a closing '\"' for the string opened at position {start + 1}", "end of input");
                    }

                    i++;
                    tokens.Add(new Token(TokenKind.Quoted, value.ToString(), start));
                }
                else if (IsWordChar(c))
                {
                    var start = i;
                    while (i < text.Length && IsWordChar(text[i]))
                    {
                        i++;
                    }

                    tokens.Add(new Token(TokenKind.Word, text[start..i], start));
                }
                else
                {
                    throw new SelectorSyntaxException(i, "a tag key, a value, an operator (=, !=, in), and, or, a parenthesis or a comma", $"'{c}'");
                }
            }

            tokens.Add(new Token(TokenKind.End, string.Empty, text.Length));
            return tokens;
        }

        private static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-' or '/' or ':';
    }

    private sealed class Parser(List<Token> tokens)
    {
        private int _next;
        private int _depth;

        private Token Current => tokens[_next];

        public Node ParseAll()
        {
            if (Current.Kind == TokenKind.End)
            {
                throw new SelectorSyntaxException(Current.Position, "a condition such as site=berlin", "an empty selector");
            }

            var node = ParseOr();
            if (Current.Kind != TokenKind.End)
            {
                var expected = Current.Kind == TokenKind.Close ? "end of input (this ')' closes nothing)" : "'and', 'or', ',' or end of input";
                throw Unexpected(expected);
            }

            return node;
        }

        private Node ParseOr()
        {
            var terms = new List<Node> { ParseAnd() };
            while (Current.IsKeyword("or"))
            {
                _next++;
                terms.Add(ParseAnd());
            }

            return terms.Count == 1 ? terms[0] : new Or(terms);
        }

        private Node ParseAnd()
        {
            var terms = new List<Node> { ParseTerm() };
            while (Current.IsKeyword("and") || Current.Kind == TokenKind.Comma)
            {
                _next++;
                terms.Add(ParseTerm());
            }

            return terms.Count == 1 ? terms[0] : new And(terms);
        }

        private Node ParseTerm()
        {
            if (Current.Kind == TokenKind.Open)
            {
                var open = Current;
                if (_depth == MaxDepth)
                {
                    throw new SelectorSyntaxException(
                        open.Position,
                        string.Create(CultureInfo.InvariantCulture, $"at most {MaxDepth} nested parentheses"),
                        "one more '('");
                }

                _next++;
                _depth++;
                var inner = ParseOr();
                _depth--;
                if (Current.Kind != TokenKind.Close)
                {
                    throw Unexpected($"')' to close the '(' at position {open.Position + 1}, or 'and', 'or'");
                }

                _next++;
                return inner;
            }

            if (Current.Kind != TokenKind.Word && Current.Kind != TokenKind.Quoted || Current.IsKeyword("and") || Current.IsKeyword("or"))
            {
                throw Unexpected("a tag key or '('");
            }

            var key = Current.Text;
            _next++;
            switch (Current.Kind)
            {
                case TokenKind.Equals:
                    _next++;
                    return new Equal(key, ExpectValue("="));
                case TokenKind.NotEquals:
                    _next++;
                    return new NotEqual(key, ExpectValue("!="));
                case TokenKind.Word when Current.IsKeyword("in"):
                    _next++;
                    return new In(key, ParseList());
                default:
                    throw Unexpected($"'=', '!=' or 'in' after the key '{key}'");
            }
        }

        private List<string> ParseList()
        {
            if (Current.Kind != TokenKind.Open)
            {
                throw Unexpected("'(' to start the list after 'in'");
            }

            _next++;
            var values = new List<string> { ExpectValue("(") };
            while (Current.Kind == TokenKind.Comma)
            {
                _next++;
                values.Add(ExpectValue(","));
            }

            if (Current.Kind != TokenKind.Close)
            {
                throw Unexpected("',' or ')' in the list after 'in'");
            }

            _next++;
            return values;
        }

        private string ExpectValue(string after)
        {
            if (Current.Kind is not (TokenKind.Word or TokenKind.Quoted))
            {
                throw Unexpected($"a value after '{after}'");
            }

            var value = Current.Text;
            _next++;
            return value;
        }

        private SelectorSyntaxException Unexpected(string expected) => new(Current.Position, expected, Current.Describe());
    }
}

/// <summary>A selector that does not parse; <see cref="Position"/> is 1-based, in characters.</summary>
public sealed class SelectorSyntaxException : FormatException
{
    public SelectorSyntaxException(int offset, string expected, string found)
        : base(string.Create(CultureInfo.InvariantCulture, $"at position {offset + 1}: expected {expected}, found {found}"))
    {
        Position = offset + 1;
        Expected = expected;
        Found = found;
    }

    public SelectorSyntaxException()
    {
        Expected = Found = string.Empty;
    }

    public SelectorSyntaxException(string message)
        : base(message)
    {
        Expected = Found = string.Empty;
    }

    public SelectorSyntaxException(string message, Exception innerException)
        : base(message, innerException)
    {
        Expected = Found = string.Empty;
    }

    public int Position { get; }

    public string Expected { get; }

    public string Found { get; }
}
