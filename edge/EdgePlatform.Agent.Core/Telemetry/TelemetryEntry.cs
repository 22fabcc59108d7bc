using System.Text.Json;
using System.Text.Json.Serialization;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Core.Telemetry;

/// <summary>
/// One spooled report: its kind and the record of that kind, as JSON. Agents before kinds spooled
/// a bare <see cref="TelemetryRecord"/>; such an entry has no <c>kind</c> and reads as health.
/// </summary>
public sealed record TelemetryEntry(string Kind, TelemetryRecord? Health = null, PerfRecord? Perf = null, QualityRecord? Quality = null)
{
    public static TelemetryEntry Of(TelemetryRecord health) => new(TelemetryKinds.Health, Health: health);

    public static TelemetryEntry Of(PerfRecord perf) => new(TelemetryKinds.Perf, Perf: perf);

    public static TelemetryEntry Of(QualityRecord quality) => new(TelemetryKinds.Quality, Quality: quality);

    /// <summary>The same entry with its record's sequence set.</summary>
    public TelemetryEntry WithSequence(long sequence) => this with
    {
        Health = Health is null ? null : Health with { Sequence = sequence },
        Perf = Perf is null ? null : Perf with { Sequence = sequence },
        Quality = Quality is null ? null : Quality with { Sequence = sequence },
    };

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, TelemetrySpoolJsonContext.Default.TelemetryEntry);

    /// <exception cref="InvalidDataException">The bytes are not a spooled report of a known kind.</exception>
    public static TelemetryEntry FromJson(long id, ReadOnlySpan<byte> json)
    {
        try
        {
            var entry = JsonSerializer.Deserialize(json, TelemetrySpoolJsonContext.Default.TelemetryEntry);
            return entry switch
            {
                null => throw new InvalidDataException($"telemetry spool entry {id} holds no report"),
                { Kind: null } => Of(JsonSerializer.Deserialize(json, ContractsJsonContext.Default.TelemetryRecord)
                    ?? throw new InvalidDataException($"telemetry spool entry {id} holds no report")),
                { Kind: TelemetryKinds.Health, Health: not null } or { Kind: TelemetryKinds.Perf, Perf: not null } or { Kind: TelemetryKinds.Quality, Quality: not null } => entry,
                _ => throw new InvalidDataException($"telemetry spool entry {id} is of kind '{entry.Kind}' without a record of that kind"),
            };
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"telemetry spool entry {id} is not a report: {ex.Message}", ex);
        }
    }
}

/// <summary>Source-generated serialization of spool entries, in the wire records' JSON conventions.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TelemetryEntry))]
internal sealed partial class TelemetrySpoolJsonContext : JsonSerializerContext;
