using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>
/// How values are kept in columns, the same on SQLite and PostgreSQL: times as round-trip UTC
/// text (fixed width, so text order is time order), nested documents and lists as JSON text.
/// </summary>
internal static class StoreValues
{
    public static string Time(DateTimeOffset value) => value.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    public static DateTimeOffset ParseTime(string value) =>
        DateTimeOffset.Parse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    public static string Json<T>(T value, JsonTypeInfo<T> typeInfo) => JsonSerializer.Serialize(value, typeInfo);

    public static string ListJson(IReadOnlyList<long> values) => JsonSerializer.Serialize([.. values], StorageJsonContext.Default.Int64Array);

    public static string ListJson(IReadOnlyList<double> values) => JsonSerializer.Serialize([.. values], StorageJsonContext.Default.DoubleArray);

    public static string ListJson(IReadOnlyList<double?> values) => JsonSerializer.Serialize([.. values], StorageJsonContext.Default.NullableDoubleArray);

    public static string ListJson(IReadOnlyList<string> values) => JsonSerializer.Serialize([.. values], StorageJsonContext.Default.StringArray);

    public static T FromJson<T>(string json, JsonTypeInfo<T> typeInfo) =>
        JsonSerializer.Deserialize(json, typeInfo) ?? throw new InvalidDataException($"stored {typeof(T).Name} document is null");
}
