namespace EdgePlatform.Agent.Inference;

/// <summary>
/// Which model scored an event: the card's name and version, and the sha256 digest of the
/// ONNX file that was loaded (the same digest as its layer in the model package).
/// <see cref="ManifestDigest"/> is the manifest digest of the package the model came from, the
/// digest the control plane knows a release by; null for a model loaded from files.
/// </summary>
public sealed record ModelIdentity(string Name, string Version, string OnnxDigest)
{
    public string? ManifestDigest { get; init; }
}
