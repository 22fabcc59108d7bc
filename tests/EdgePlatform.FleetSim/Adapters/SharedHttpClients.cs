namespace EdgePlatform.FleetSim.Adapters;

/// <summary>
/// The HTTP clients the agent's enrollment, attestation and trust code ask for, all over the
/// fleet's one pooled handler, so ten thousand devices share a bounded set of sockets. The agent
/// creates one <see cref="Agent.Core.Identity.AttestationClient"/> client per attestation, which
/// is how the fleet counts attestations.
/// </summary>
internal sealed class SharedHttpClients(HttpMessageHandler handler, FleetCounters counters) : IHttpClientFactory
{
    public HttpClient CreateClient(string name)
    {
        if (string.Equals(name, nameof(Agent.Core.Identity.AttestationClient), StringComparison.Ordinal))
        {
            counters.AddAttestation();
        }

        return new HttpClient(handler, disposeHandler: false) { Timeout = TimeSpan.FromSeconds(60) };
    }
}
