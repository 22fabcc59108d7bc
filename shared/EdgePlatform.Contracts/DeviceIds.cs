namespace EdgePlatform.Contracts;

/// <summary>
/// Device ids become MQTT topic levels and file names, so they are restricted to
/// lowercase letters, digits, '.', '_' and '-' (1-63 characters, starting with a letter or digit).
/// </summary>
public static class DeviceIds
{
    public const int MaxLength = 63;

    public static bool IsValid(string? id) => Describe(id) is null;

    /// <summary>Why <paramref name="id"/> is not a valid device id, or null when it is.</summary>
    public static string? Describe(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            return "is required";
        }

        if (id.Length > MaxLength)
        {
            return $"is longer than {MaxLength} characters";
        }

        if (!char.IsAsciiLetterLower(id[0]) && !char.IsAsciiDigit(id[0]))
        {
            return "must start with a lowercase letter or a digit";
        }

        foreach (var c in id)
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c is not ('.' or '_' or '-'))
            {
                return $"may hold only lowercase letters, digits, '.', '_' and '-' (found '{c}')";
            }
        }

        return null;
    }
}
