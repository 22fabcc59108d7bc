using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.Agent.Core.Trust;

/// <summary>
/// The device's chain of trust: the root pinned at enrollment, advanced and refreshed with
/// <see cref="TufClient"/> against the control plane's metadata, kept under <c>trust/</c>.
/// </summary>
public sealed class DeviceTrust(TufClient client, Func<CancellationToken, Task> ensureEnrolled) : ITrustStore, IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public async Task<TrustedMetadata> RefreshAsync(CancellationToken cancellationToken)
    {
        await ensureEnrolled(cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var targets = await client.RefreshAsync(cancellationToken).ConfigureAwait(false);
            return new TrustedMetadata(client.TrustedRoot(), targets);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<TargetsMetadata?> TrustedTargetsAsync(CancellationToken cancellationToken)
    {
        await ensureEnrolled(cancellationToken).ConfigureAwait(false);
        return client.TrustedTargets();
    }

    public void Dispose() => _gate.Dispose();

    public async Task<RootMetadata> TrustedRootAsync(CancellationToken cancellationToken)
    {
        await ensureEnrolled(cancellationToken).ConfigureAwait(false);
        return client.TrustedRoot();
    }
}
