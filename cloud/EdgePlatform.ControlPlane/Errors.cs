namespace EdgePlatform.ControlPlane;

/// <summary>A request the control plane refuses; hosts map each kind to a status code.</summary>
public abstract class ControlPlaneException : Exception
{
    protected ControlPlaneException(string message)
        : base(message)
    {
    }
}

/// <summary>A field of the request is missing or wrong (HTTP 400).</summary>
public sealed class RequestValidationException(string field, string problem)
    : ControlPlaneException($"{field}: {problem}")
{
    public string Field { get; } = field;

    public string Problem { get; } = problem;
}

/// <summary>A named thing does not exist (HTTP 404).</summary>
public sealed class NotFoundException(string message) : ControlPlaneException(message);

/// <summary>The request conflicts with what exists (HTTP 409).</summary>
public sealed class ConflictException(string message) : ControlPlaneException(message);

/// <summary>The caller's credential is not valid (HTTP 401).</summary>
public sealed class CredentialRejectedException(string message) : ControlPlaneException(message);

/// <summary>Attestation evidence did not hold; the message names the check that failed.</summary>
public sealed class AttestationFailedException(string message) : ControlPlaneException(message);
