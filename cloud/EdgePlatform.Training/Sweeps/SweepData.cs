using System.Security.Cryptography;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Data;

namespace EdgePlatform.Training.Sweeps;

/// <summary>Reads a dataset snapshot for a sweep, with the label read as its task needs (classes or numbers).</summary>
public static class SweepData
{
    /// <param name="snapshot">The snapshot's bytes, as registered.</param>
    /// <param name="dataset">The registered dataset (its format, kinds, columns and label).</param>
    /// <param name="spec">The sweep; its label and task decide how the label column is read.</param>
    /// <param name="cancellationToken">Stops the read between batches.</param>
    public static TabularDataset Load(Stream snapshot, DatasetInfo dataset, SweepSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(spec);
        // A CSV registered whole (no format recorded) is read as CSV with its kinds inferred.
        var options = new TabularReadOptions { Format = ParseFormat(dataset.Format) };
        using var reader = TabularFormats.Open(snapshot, dataset.Name, options);
        var label = spec.Label ?? dataset.Label;
        var features = spec.Features ?? [.. dataset.Columns.Where(c => c != label)];
        return TabularDataset.ReadForTask(reader, label, dataset.Digest, spec.Task, features, source: dataset.Name, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Reads a local file (any format <see cref="TabularFormats"/> reads, by its name) for a sweep run
    /// on this machine. The label is the spec's, else a column named <c>label</c> or <c>class</c>, else
    /// the last column (Weka's convention for ARFF files).
    /// </summary>
    /// <exception cref="DatasetFormatException">The file cannot be read, or its label does not suit the task.</exception>
    public static TabularDataset LoadFile(string path, SweepSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(spec);
        string digest;
        using (var file = File.OpenRead(path))
        {
            digest = ContentDigest.Sha256Prefix + Convert.ToHexStringLower(SHA256.HashData(file));
        }

        using var reader = TabularFormats.Open(path);
        var columns = reader.Schema.Columns.Select(c => c.Name).ToArray();
        var label = spec.Label
            ?? columns.FirstOrDefault(c => c.Equals("label", StringComparison.OrdinalIgnoreCase))
            ?? columns.FirstOrDefault(c => c.Equals("class", StringComparison.OrdinalIgnoreCase))
            ?? columns[^1];
        return TabularDataset.ReadForTask(reader, label, digest, spec.Task, spec.Features, source: Path.GetFileName(path), cancellationToken: cancellationToken);
    }

    private static TabularFormat? ParseFormat(string? name) =>
        name is null ? TabularFormat.Csv
        : Enum.TryParse<TabularFormat>(name.Trim().Replace("-", string.Empty, StringComparison.Ordinal), ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) ? parsed
        : throw new ArgumentException($"Dataset format '{name}' is not one of: {string.Join(", ", Enum.GetNames<TabularFormat>())}.", nameof(name));
}
