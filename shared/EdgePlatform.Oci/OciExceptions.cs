using System.Net;

namespace EdgePlatform.Oci;

/// <summary>One entry of the registry's <c>{"errors":[...]}</c> answer.</summary>
public sealed record OciError(string Code, string Message);

/// <summary>
/// The registry refused a request. <see cref="ErrorCode"/> is the first code it gave
/// (<c>BLOB_UNKNOWN</c>, <c>DIGEST_INVALID</c>, <c>MANIFEST_BLOB_UNKNOWN</c>, ...), or null when
/// the answer had no error body (HEAD requests, proxies).
/// </summary>
public sealed class OciRegistryException(string message, HttpStatusCode statusCode, IReadOnlyList<OciError> errors)
    : Exception(message)
{
    public HttpStatusCode StatusCode { get; } = statusCode;

    public IReadOnlyList<OciError> Errors { get; } = errors;

    public string? ErrorCode => Errors.Count > 0 ? Errors[0].Code : null;
}

/// <summary>What the registry returned is not what was asked for: a digest that does not match, a malformed manifest.</summary>
public sealed class OciContentException(string message) : Exception(message);
