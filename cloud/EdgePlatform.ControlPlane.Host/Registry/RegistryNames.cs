using System.Text.RegularExpressions;

namespace EdgePlatform.ControlPlane.Host.Registry;

/// <summary>The distribution spec's grammar for repository names and tags.</summary>
public static partial class RegistryNames
{
    /// <summary>Repository names longer than this are refused; the spec lets registries cap them, as Docker Hub does at 255.</summary>
    public const int MaxRepositoryLength = 255;

    public static bool IsValidRepository(string repository) =>
        repository.Length <= MaxRepositoryLength && RepositoryPattern().IsMatch(repository);

    public static bool IsValidTag(string tag) => TagPattern().IsMatch(tag);

    [GeneratedRegex(@"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$", RegexOptions.CultureInvariant)]
    private static partial Regex RepositoryPattern();

    [GeneratedRegex("^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex TagPattern();
}
