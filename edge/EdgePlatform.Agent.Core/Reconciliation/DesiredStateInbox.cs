using System.Threading.Channels;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Core.Reconciliation;

/// <summary>
/// Where the cloud link drops desired states for the reconciler. Only the newest matters: an
/// older one still waiting is superseded.
/// </summary>
public sealed class DesiredStateInbox
{
    private readonly Channel<DesiredState> _channel = Channel.CreateBounded<DesiredState>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    /// <summary>Raised for every desired state the link delivers, before the reconciler takes it up.</summary>
    public event Action<DesiredState>? Received;

    public void Post(DesiredState desired)
    {
        Received?.Invoke(desired);
        _channel.Writer.TryWrite(desired);
    }

    internal ChannelReader<DesiredState> Reader => _channel.Reader;
}
