namespace EdgePlatform.ControlPlane.Devices;

/// <summary>The rules for device tags, the same whether set at enrollment or by an operator.</summary>
public static class DeviceTags
{
    public const int MaxTags = 32;

    public static Dictionary<string, string> Validate(IReadOnlyDictionary<string, string>? tags)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (tags is null)
        {
            return result;
        }

        if (tags.Count > MaxTags)
        {
            throw new RequestValidationException("tags", $"at most {MaxTags} tags are allowed");
        }

        foreach (var (key, value) in tags)
        {
            if (string.IsNullOrWhiteSpace(key) || key.Length > 63 || value is null || value.Length > 256)
            {
                throw new RequestValidationException("tags", $"tag '{key}' needs a key of 1-63 characters and a value of at most 256");
            }

            result[key] = value;
        }

        return result;
    }
}
