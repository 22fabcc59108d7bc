using System.Text.Json;

namespace EdgePlatform.Cli;

/// <summary>Tokens saved by <c>edgectl login</c>, per server, in <c>~/.config/edgeplatform/credentials.json</c> (mode 0600).</summary>
public static class Credentials
{
    public static string FilePath => Path.Combine(
        Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } config ? config : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config"),
        "edgeplatform",
        "credentials.json");

    public static string? Load(Uri server) => Read().GetValueOrDefault(Key(server));

    public static void Save(Uri server, string token)
    {
        var all = Read();
        all[Key(server)] = token;
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        var temporary = FilePath + ".tmp";
        File.Delete(temporary);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
        using (var stream = new FileStream(temporary, options))
        {
            JsonSerializer.Serialize(stream, all, Commands.CliJsonContext.Default.DictionaryStringString);
        }

        File.Move(temporary, FilePath, overwrite: true);
    }

    private static Dictionary<string, string> Read()
    {
        if (!File.Exists(FilePath))
        {
            return new Dictionary<string, string>(StringComparer.Ordinal);
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(FilePath), Commands.CliJsonContext.Default.DictionaryStringString)
                ?? new Dictionary<string, string>(StringComparer.Ordinal);
        }
        catch (JsonException ex)
        {
            throw new CliException($"{FilePath} is not valid JSON ({ex.Message}); fix or delete it and log in again", ex);
        }
    }

    private static string Key(Uri server) => server.GetLeftPart(UriPartial.Authority);
}
