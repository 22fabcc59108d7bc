namespace EdgePlatform.ControlPlane.Host.Registry;

/// <summary>
/// A refusal in the terms of the distribution spec: the HTTP status and the error code that
/// clients branch on (<c>DIGEST_INVALID</c>, <c>MANIFEST_BLOB_UNKNOWN</c>, ...).
/// </summary>
public sealed class RegistryErrorException(int statusCode, string code, string message) : Exception(message)
{
    public int StatusCode { get; } = statusCode;

    public string Code { get; } = code;

    /// <summary>Extra response headers, such as the upload's current <c>Range</c> on a 416.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();
}
