namespace EdgePlatform.Oci.Images;

/// <summary>An image layout on disk is missing something or holds content that does not match its digest.</summary>
public sealed class OciLayoutException : Exception
{
    public OciLayoutException()
    {
    }

    public OciLayoutException(string message)
        : base(message)
    {
    }

    public OciLayoutException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
