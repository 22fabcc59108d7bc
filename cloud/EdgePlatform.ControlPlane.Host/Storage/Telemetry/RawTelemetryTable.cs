using System.Data;
using System.Data.Common;
using EdgePlatform.Contracts;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Telemetry;

/// <summary>
/// The raw table of one telemetry kind, derived from its <see cref="TelemetrySchema{TRecord}"/>:
/// the columns every kind has (device, receipt time, and for health the kind it arrived under),
/// then one column per declared field, each converted the same way on SQLite and PostgreSQL
/// (times and lists as text, histograms as bytes).
/// </summary>
internal sealed class RawTelemetryTable<TRecord>
{
    public RawTelemetryTable(string name, TelemetrySchema<TRecord> schema, bool hasKind, IReadOnlySet<string>? emptyForNull = null)
    {
        Name = name;
        Schema = schema;
        HasKind = hasKind;
        EmptyForNull = emptyForNull ?? new HashSet<string>(StringComparer.Ordinal);
        KeyColumns = hasKind ? ["device_id", "kind", "received_at"] : ["device_id", "received_at"];
    }

    public string Name { get; }

    public TelemetrySchema<TRecord> Schema { get; }

    public bool HasKind { get; }

    /// <summary>Columns besides the declared fields.</summary>
    public IReadOnlyList<string> KeyColumns { get; }

    /// <summary>
    /// Nullable text fields whose column is NOT NULL from before the field could be null: they
    /// hold "" for null and read back as null.
    /// </summary>
    public IReadOnlySet<string> EmptyForNull { get; }

    public IEnumerable<string> Columns => KeyColumns.Concat(Schema.Fields.Select(f => f.StoreColumn));

    /// <summary>The parameter that carries a field's value: its store column's name.</summary>
    public static string Parameter(TelemetryField<TRecord> field) => "@" + field.StoreColumn;

    public static DbType ParameterType(TelemetryField<TRecord> field) => field.Kind switch
    {
        TelemetryValueKind.Count or TelemetryValueKind.SmallInteger => DbType.Int64,
        TelemetryValueKind.Real => DbType.Double,
        TelemetryValueKind.Bytes => DbType.Binary,
        _ => DbType.String,
    };

    /// <summary>The field's value of <paramref name="record"/> as its column holds it.</summary>
    public object ToColumn(TelemetryField<TRecord> field, TRecord record) => field.GetValue(record) switch
    {
        null when EmptyForNull.Contains(field.StoreColumn) => string.Empty,
        null => DBNull.Value,
        int value => (long)value,
        DateTimeOffset value => Time(value),
        ReadOnlyMemory<byte> value => value.ToArray(),
        IReadOnlyList<long> value => ListJson(value),
        IReadOnlyList<double> value => ListJson(value),
        IReadOnlyList<double?> value => ListJson(value),
        IReadOnlyList<string> value => ListJson(value),
        var value => value,
    };

    /// <summary>The record of the reader's current row; <paramref name="ordinals"/> from <see cref="Ordinals"/>.</summary>
    public TRecord Read(DbDataReader reader, int[] ordinals)
    {
        var record = Schema.Empty;
        for (var i = 0; i < ordinals.Length; i++)
        {
            var field = Schema.Fields[i];
            record = field.WithValue(record, FromColumn(field, reader, ordinals[i]));
        }

        return record;
    }

    /// <summary>Each declared field's column in the reader's result, in declaration order.</summary>
    public int[] Ordinals(DbDataReader reader) => [.. Schema.Fields.Select(f => reader.GetOrdinal(f.StoreColumn))];

    private object? FromColumn(TelemetryField<TRecord> field, DbDataReader reader, int ordinal)
    {
        if (reader.IsDBNull(ordinal))
        {
            return field.Nullable ? null : throw new InvalidDataException($"{Name}.{field.StoreColumn} holds a null");
        }

        return field.Kind switch
        {
            TelemetryValueKind.Count => Convert.ToInt64(reader.GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture),
            TelemetryValueKind.SmallInteger => Convert.ToInt32(reader.GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture),
            TelemetryValueKind.Real => reader.GetDouble(ordinal),
            TelemetryValueKind.Timestamp => ParseTime(reader.GetString(ordinal)),
            TelemetryValueKind.Text => reader.GetString(ordinal) is var text && text.Length == 0 && EmptyForNull.Contains(field.StoreColumn) ? null : text,
            TelemetryValueKind.Bytes => new ReadOnlyMemory<byte>((byte[])reader.GetValue(ordinal)),
            TelemetryValueKind.IntegerList => FromJson(reader.GetString(ordinal), StorageJsonContext.Default.Int64Array),
            TelemetryValueKind.RealList => FromJson(reader.GetString(ordinal), StorageJsonContext.Default.DoubleArray),
            TelemetryValueKind.NullableRealList => FromJson(reader.GetString(ordinal), StorageJsonContext.Default.NullableDoubleArray),
            TelemetryValueKind.TextList => FromJson(reader.GetString(ordinal), StorageJsonContext.Default.StringArray),
            _ => throw new InvalidDataException($"no column conversion for {field.Kind}"),
        };
    }
}

/// <summary>The raw tables of the three telemetry kinds.</summary>
internal static class RawTelemetryTables
{
    private static readonly HashSet<string> ManifestDigest = new(["manifest_digest"], StringComparer.Ordinal);

    public static RawTelemetryTable<TelemetryRecord> Health { get; } = new("telemetry", TelemetrySchemas.Health, hasKind: true);

    /// <summary>manifest_digest is NOT NULL from before models loaded from files were reported apart.</summary>
    public static RawTelemetryTable<PerfRecord> Perf { get; } = new("telemetry_perf", TelemetrySchemas.Perf, hasKind: false, ManifestDigest);

    public static RawTelemetryTable<QualityRecord> Quality { get; } = new("telemetry_quality", TelemetrySchemas.Quality, hasKind: false, ManifestDigest);

    /// <summary>Every raw table's name: one (device, sequence) lives in at most one of them.</summary>
    public static IReadOnlyList<string> Names { get; } = [Health.Name, Perf.Name, Quality.Name];
}
