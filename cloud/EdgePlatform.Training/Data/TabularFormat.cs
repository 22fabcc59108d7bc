namespace EdgePlatform.Training.Data;

/// <summary>The file formats <see cref="TabularFormats.Open(string, TabularReadOptions?)"/> reads.</summary>
public enum TabularFormat
{
    /// <summary>Comma-separated values with a header row (RFC 4180 quoting).</summary>
    Csv,

    /// <summary>Tab-separated values with a header row: CSV with a tab delimiter.</summary>
    Tsv,

    /// <summary>Apache Parquet, read row group by row group.</summary>
    Parquet,

    /// <summary>Arrow IPC file format (random access, starts with ARROW1).</summary>
    ArrowFile,

    /// <summary>Arrow IPC streaming format.</summary>
    ArrowStream,

    /// <summary>Weka's Attribute-Relation File Format.</summary>
    Arff,

    /// <summary>One JSON object per line (JSON lines, NDJSON).</summary>
    JsonLines,
}
