using EdgePlatform.Cli.Output;

namespace EdgePlatform.Cli.Tests.Output;

public sealed class TableWriterTests
{
    private sealed record Row(string Name, string Digest, string Note);

    private static readonly IReadOnlyList<Column<Row>> Columns =
    [
        new("NAME", r => r.Name),
        new("DIGEST", r => Render.ShortDigest(r.Digest)) { WideValue = r => r.Digest },
        new("NOTE", r => r.Note) { WideOnly = true },
    ];

    private static readonly Row[] Rows =
    [
        new("a", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "first"),
        new("longer-name", "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210", "second"),
    ];

    [Fact]
    public void Format_Rows_AlignsEachColumnThreeSpacesAfterTheWidestCell()
    {
        var text = TableWriter.Format(["NAME", "STATE", "AGE"], [["a", "active", "5m"], ["longer-name", "-", "12h"]]);

        Assert.Equal(
            "NAME          STATE    AGE\n" +
            "a             active   5m\n" +
            "longer-name   -        12h\n",
            text);
    }

    [Fact]
    public void Format_EmptyLastCell_LeavesNoTrailingSpaces()
    {
        var text = TableWriter.Format(["NAME", "NOTE"], [["a", ""], ["b", "x"]]);

        Assert.All(text.Split('\n'), line => Assert.Equal(line.TrimEnd(), line));
    }

    [Fact]
    public void Format_CellWithLineBreakOrTab_StaysOnItsRow()
    {
        var text = TableWriter.Format(["NAME", "ERROR"], [["a", "first line\nsecond\tline"]]);

        Assert.Equal("NAME   ERROR\na      first line second line\n", text);
    }

    [Fact]
    public void Format_NoRows_IsEmptyNotJustHeaders()
    {
        Assert.Equal(string.Empty, TableWriter.Format(Columns, [], wide: false));
    }

    [Fact]
    public void Format_Default_HidesWideOnlyColumnsAndShortensDigests()
    {
        var lines = TableWriter.Format(Columns, Rows, wide: false).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal("NAME          DIGEST", lines[0]);
        Assert.Equal("a             sha256:01234567…", lines[1]);
        Assert.DoesNotContain("first", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Format_Wide_ShowsEveryColumnWithFullValues()
    {
        var lines = TableWriter.Format(Columns, Rows, wide: true).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(["NAME", "DIGEST", "NOTE"], lines[0].Split("   ", StringSplitOptions.RemoveEmptyEntries).Select(h => h.Trim()));
        Assert.Contains(Rows[1].Digest + "   second", lines[2], StringComparison.Ordinal);
    }
}
