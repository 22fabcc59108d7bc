using System.Globalization;

namespace EdgePlatform.Training.Data;

/// <summary>
/// Writes batches back out as CSV (or, with <see cref="WriteArrow(ITabularReader, Stream, CancellationToken)"/>, an Arrow IPC file), for cleansed dataset versions. The bytes depend only on the
/// schema and the rows, never on batch boundaries, culture or platform, so the same rows always
/// have the same digest: UTF-8 without a byte-order mark, '\n' line endings, ',' between fields,
/// numbers in their shortest round-trip form ("R", '.' decimal), booleans as true/false,
/// date-times as ISO-8601 UTC (2024-03-01T12:00:00Z, fractions only when present), missing
/// values as empty fields, and strings quoted (RFC 4180) only when they hold a comma, quote,
/// line break or surrounding space, or are empty.
/// </summary>
public static class TabularWriter
{
    /// <summary>Reads <paramref name="reader"/> to the end and writes it as CSV; returns the number of rows written.</summary>
    public static long WriteCsv(ITabularReader reader, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return WriteCsv(reader.Schema, Batches(reader, cancellationToken), destination, cancellationToken);
    }

    public static long WriteCsv(DataSchema schema, IEnumerable<DataBatch> batches, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(batches);
        using var writer = new CsvRowWriter(destination, schema);
        foreach (var batch in batches)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!ReferenceEquals(batch.Schema, schema) && batch.Schema != schema)
            {
                throw new ArgumentException("A batch has another schema than the one being written.", nameof(batches));
            }

            writer.Write(batch);
        }

        return writer.Rows;
    }

    /// <summary>A number as the CSV writer writes it: shortest round-trip invariant form, empty for missing.</summary>
    public static string FormatNumber(double value) =>
        double.IsNaN(value) ? string.Empty : value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Reads <paramref name="reader"/> to the end and writes it as an Arrow IPC file (see the class summary of the format's rules); returns the rows written.</summary>
    public static long WriteArrow(ITabularReader reader, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return WriteArrow(reader.Schema, Batches(reader, cancellationToken), destination, cancellationToken);
    }

    /// <summary>
    /// Writes an Arrow IPC file whose bytes depend only on the schema and rows: record batches of
    /// 65,536 rows whatever the incoming batches; float64, boolean, UTC microsecond timestamps and
    /// UTF-8 strings; each field's kind (and declared categories) in its metadata, which
    /// <see cref="TabularFormats"/> honours when reading it back.
    /// </summary>
    public static long WriteArrow(DataSchema schema, IEnumerable<DataBatch> batches, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(destination);
        return ArrowTabularWriter.Write(schema, batches, destination, cancellationToken);
    }

    private static IEnumerable<DataBatch> Batches(ITabularReader reader, CancellationToken cancellationToken)
    {
        while (reader.ReadBatch(cancellationToken) is { } batch)
        {
            yield return batch;
        }
    }
}
