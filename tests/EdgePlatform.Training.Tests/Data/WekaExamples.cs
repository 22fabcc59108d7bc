namespace EdgePlatform.Training.Tests.Data;

/// <summary>
/// The ARFF files Debian's weka package ships, real data written by Weka itself. tests/run.sh
/// installs the package; tests over them skip locally without it and fail under CI=true.
/// </summary>
internal static class WekaExamples
{
    public static readonly string[] Folders = ["/usr/share/doc/weka/examples", "/usr/share/weka/data", "/usr/share/doc/weka/data"];

    public const string Missing = "Debian's weka package is not installed; tests/run.sh installs it, or apt-get install weka.";

    public static IReadOnlyList<string> Files() =>
    [
        .. Folders.Where(Directory.Exists)
            .SelectMany(f => Directory.EnumerateFiles(f, "*", SearchOption.AllDirectories))
            .Where(f => f.EndsWith(".arff", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".arff.gz", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal),
    ];

    /// <summary>The installed file whose name starts with <paramref name="name"/> (<c>iris</c> or <c>iris.arff</c>).</summary>
    public static string File(string name) =>
        Files().FirstOrDefault(f => Path.GetFileName(f).StartsWith(name.EndsWith(".arff", StringComparison.Ordinal) ? name : $"{name}.arff", StringComparison.Ordinal))
        ?? throw new InvalidOperationException($"{name} is not installed. {Missing}");

    /// <summary>Why a test over the files cannot run here, or null when it can (always under CI=true, where it runs and fails).</summary>
    public static string? SkipReason() =>
        !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase) && Files().Count == 0 ? Missing : null;
}

/// <summary>A fact over the weka package's files: skipped locally without the package, failed under CI=true.</summary>
public sealed class WekaExamplesFactAttribute : FactAttribute
{
    public WekaExamplesFactAttribute() => Skip = WekaExamples.SkipReason();
}

/// <summary>A theory over the weka package's files: skipped locally without the package, failed under CI=true.</summary>
public sealed class WekaExamplesTheoryAttribute : TheoryAttribute
{
    public WekaExamplesTheoryAttribute() => Skip = WekaExamples.SkipReason();
}
