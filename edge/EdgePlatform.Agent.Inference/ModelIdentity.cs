namespace EdgePlatform.Agent.Inference;

/// <summary>
/// Which model scored an event: the card's name and version, and the sha256 digest of the
/// ONNX file that was loaded (the same digest as its layer in the model package).
/// </summary>
public sealed record ModelIdentity(string Name, string Version, string Digest);
