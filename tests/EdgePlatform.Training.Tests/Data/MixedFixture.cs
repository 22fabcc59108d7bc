using System.Globalization;
using System.Text;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using Parquet;
using Parquet.Schema;

namespace EdgePlatform.Training.Tests.Data;

/// <summary>
/// One small mixed table (numeric with a missing value, categorical strings one of which holds
/// a comma, boolean, date-time, free text), written in every supported format into a temporary
/// folder, with the rows every reader must produce.
/// </summary>
public sealed class MixedFixture : IDisposable
{
    public static readonly string[] Sites = ["north, upper", "south", "east", "north, upper", "south", "east", "north, upper", "south"];
    public static readonly double?[] Temperatures = [21.5, null, 19.25, -4.0, 1e3, 0.125, 17.0, 22.75];
    public static readonly bool[] Active = [true, false, true, true, false, false, true, false];
    public static readonly DateTimeOffset[] MeasuredAt =
    [
        .. Enumerable.Range(0, 8).Select(i => new DateTimeOffset(2024, 3, 1, 8, 0, 0, TimeSpan.Zero).AddMinutes(95 * i)),
    ];

    public static readonly string[] Notes =
    [
        "first reading", "sensor reset", "calibrated", "said \"ok\"", "after maintenance", "night shift", "valve check", "last one",
    ];

    public static int Rows => Sites.Length;

    public MixedFixture()
    {
        Directory.CreateDirectory(Folder);
        File.WriteAllText(Path("mixed.csv"), Delimited(','));
        File.WriteAllText(Path("mixed.tsv"), Delimited('\t'));
        File.WriteAllText(Path("mixed.jsonl"), JsonLines());
        File.WriteAllText(Path("mixed.arff"), Arff());
        WriteParquet(Path("mixed.parquet"));
        WriteArrow(Path("mixed.arrow"), file: true);
        WriteArrow(Path("mixed.arrows"), file: false);
    }

    public string Folder { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "edgeplatform-formats-" + Guid.NewGuid().ToString("N"));

    public string Path(string name) => System.IO.Path.Combine(Folder, name);

    public void Dispose() => Directory.Delete(Folder, recursive: true);

    public static double Seconds(DateTimeOffset value) => value.ToUnixTimeMilliseconds() / 1000.0;

    private static string Delimited(char delimiter)
    {
        var text = new StringBuilder();
        text.Append(string.Join(delimiter, "temperature", "site", "active", "measured_at", "note")).Append('\n');
        for (var i = 0; i < Rows; i++)
        {
            text.Append(string.Join(
                delimiter,
                Temperatures[i] is { } t ? t.ToString("R", CultureInfo.InvariantCulture) : "NA",
                Sites[i].Contains(delimiter, StringComparison.Ordinal) ? $"\"{Sites[i]}\"" : Sites[i],
                Active[i] ? "true" : "false",
                MeasuredAt[i].ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                "\"" + Notes[i].Replace("\"", "\"\"", StringComparison.Ordinal) + "\""));
            text.Append(i % 2 == 0 ? "\r\n" : "\n");
        }

        return text.ToString();
    }

    private static string JsonLines()
    {
        var text = new StringBuilder();
        for (var i = 0; i < Rows; i++)
        {
            // Row 2's temperature is a missing key; every other row has all keys, in varying order.
            var temperature = Temperatures[i] is { } t ? $"\"temperature\": {t.ToString("R", CultureInfo.InvariantCulture)}, " : string.Empty;
            text.Append(CultureInfo.InvariantCulture, $"{{{temperature}\"site\": \"{Sites[i]}\", \"active\": {(Active[i] ? "true" : "false")}, ")
                .Append(CultureInfo.InvariantCulture, $"\"measured_at\": \"{MeasuredAt[i]:yyyy-MM-dd'T'HH:mm:ssK}\", \"note\": \"{Notes[i].Replace("\"", "\\\"", StringComparison.Ordinal)}\"}}\n");
        }

        return text.ToString();
    }

    private static string Arff()
    {
        var text = new StringBuilder();
        text.Append("% a mixed table\n@RELATION 'mixed readings'\n\n");
        text.Append("@attribute temperature NUMERIC\n");
        text.Append("@attribute site {'north, upper', south, \"east\"}\n");
        text.Append("@Attribute active {true, false}\n");
        text.Append("@attribute measured_at date\n");
        text.Append("@attribute 'note' string\n\n@data\n");
        for (var i = 0; i < Rows; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"{(Temperatures[i] is { } t ? t.ToString("R", CultureInfo.InvariantCulture) : "?")},'{Sites[i]}',{(Active[i] ? "true" : "false")},")
                .Append(CultureInfo.InvariantCulture, $"{MeasuredAt[i]:yyyy-MM-dd'T'HH:mm:ss},'{Notes[i].Replace("\"", "\\\"", StringComparison.Ordinal)}'\n");
        }

        return text.ToString();
    }

    private static void WriteParquet(string path)
    {
        var temperature = new DataField<double?>("temperature");
        var site = new DataField<string>("site");
        var active = new DataField<bool>("active");
        var measured = new DataField<DateTime>("measured_at");
        var note = new DataField<string>("note");
        using var stream = File.Create(path);
        var writer = ParquetWriter.CreateAsync(new ParquetSchema(temperature, site, active, measured, note), stream).GetAwaiter().GetResult();
        try
        {
            // Two row groups, so reading crosses a row-group boundary.
            foreach (var (start, count) in new[] { (0, 5), (5, Rows - 5) })
            {
                using var group = writer.CreateRowGroup();
                group.WriteAsync(temperature, new ReadOnlyMemory<double?>([.. Temperatures.Skip(start).Take(count)])).GetAwaiter().GetResult();
                group.WriteAsync(site, Sites.Skip(start).Take(count).ToArray()).GetAwaiter().GetResult();
                group.WriteAsync(active, new ReadOnlyMemory<bool>([.. Active.Skip(start).Take(count)])).GetAwaiter().GetResult();
                group.WriteAsync(measured, new ReadOnlyMemory<DateTime>([.. MeasuredAt.Skip(start).Take(count).Select(d => d.UtcDateTime)])).GetAwaiter().GetResult();
                group.WriteAsync(note, Notes.Skip(start).Take(count).ToArray()).GetAwaiter().GetResult();
            }
        }
        finally
        {
            writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static void WriteArrow(string path, bool file)
    {
        var temperature = new DoubleArray.Builder();
        foreach (var t in Temperatures)
        {
            if (t is { } value)
            {
                temperature.Append(value);
            }
            else
            {
                temperature.AppendNull();
            }
        }

        var active = new BooleanArray.Builder();
        foreach (var a in Active)
        {
            active.Append(a);
        }

        var measured = new TimestampArray.Builder(new TimestampType(TimeUnit.Microsecond, "UTC"));
        foreach (var m in MeasuredAt)
        {
            measured.Append(m);
        }

        var notes = new LargeStringArray.Builder();
        foreach (var n in Notes)
        {
            notes.Append(n);
        }

        // The file holds the sites as plain strings, the stream dictionary-encoded.
        IArrowArray site;
        IArrowType siteType;
        if (file)
        {
            var builder = new StringArray.Builder();
            foreach (var s in Sites)
            {
                builder.Append(s);
            }

            site = builder.Build();
            siteType = StringType.Default;
        }
        else
        {
            var distinct = Sites.Distinct().ToArray();
            var dictionary = new StringArray.Builder();
            foreach (var s in distinct)
            {
                dictionary.Append(s);
            }

            var indices = new Int32Array.Builder();
            foreach (var s in Sites)
            {
                indices.Append(System.Array.IndexOf(distinct, s));
            }

            siteType = new DictionaryType(Int32Type.Default, StringType.Default, false);
            site = new DictionaryArray((DictionaryType)siteType, indices.Build(), dictionary.Build());
        }

        var schema = new Apache.Arrow.Schema.Builder()
            .Field(f => f.Name("temperature").DataType(DoubleType.Default).Nullable(true))
            .Field(f => f.Name("site").DataType(siteType).Nullable(false))
            .Field(f => f.Name("active").DataType(BooleanType.Default).Nullable(false))
            .Field(f => f.Name("measured_at").DataType(new TimestampType(TimeUnit.Microsecond, "UTC")).Nullable(false))
            .Field(f => f.Name("note").DataType(LargeStringType.Default).Nullable(false))
            .Build();
        using var batch = new RecordBatch(schema, [temperature.Build(), site, active.Build(), measured.Build(), notes.Build()], Rows);
        using var stream = File.Create(path);
        using ArrowStreamWriter writer = file ? new ArrowFileWriter(stream, schema) : new ArrowStreamWriter(stream, schema);
        writer.WriteRecordBatch(batch);
        writer.WriteEnd();
    }
}
