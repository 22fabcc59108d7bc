namespace EdgePlatform.Agent.Inference;

/// <summary>
/// An event could not be turned into model inputs. The message says why in words fit for a
/// dead letter ("field 'temperature_c' is missing").
/// </summary>
public sealed class EventBindingException : Exception
{
    public EventBindingException()
    {
    }

    public EventBindingException(string message)
        : base(message)
    {
    }

    public EventBindingException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
