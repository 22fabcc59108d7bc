using System.Net;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.ControlPlane.Host.Tests.Apis;

/// <summary>A device's view of the trust API: metadata fetched over HTTP, a missing root version as null.</summary>
internal sealed class ApiTufRemote(HttpClient client) : ITufRemote
{
    public async Task<byte[]?> GetRootAsync(long version, CancellationToken cancellationToken)
    {
        using var response = await client.GetAsync(new Uri($"/api/v1/trust/root/{version}", UriKind.Relative), cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsByteArrayAsync(cancellationToken);
    }

    public Task<byte[]> GetTimestampAsync(CancellationToken cancellationToken) =>
        client.GetByteArrayAsync(new Uri("/api/v1/trust/timestamp", UriKind.Relative), cancellationToken);

    public Task<byte[]> GetTargetsAsync(CancellationToken cancellationToken) =>
        client.GetByteArrayAsync(new Uri("/api/v1/trust/targets", UriKind.Relative), cancellationToken);
}
