namespace EdgePlatform.Cli.Output;

/// <summary>
/// One column of a list, declared once per command: its header, how a row shows in it, and
/// whether it appears only with <c>-o wide</c> or shows more there (a full digest, a full time).
/// </summary>
public sealed record Column<T>(string Header, Func<T, string> Value)
{
    /// <summary>Shown only with <c>-o wide</c>.</summary>
    public bool WideOnly { get; init; }

    /// <summary>What <c>-o wide</c> shows instead of <see cref="Value"/>; null when both are the same.</summary>
    public Func<T, string>? WideValue { get; init; }
}
