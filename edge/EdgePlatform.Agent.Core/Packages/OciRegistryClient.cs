using System.Net;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Oci;
using EdgePlatform.Security;

namespace EdgePlatform.Agent.Core.Packages;

/// <summary>
/// The agent's pull side over the OCI distribution client, against the registry named at
/// enrollment. Content problems the client detects become package refusals naming the check.
/// </summary>
public sealed class OciRegistryClient(HttpClient http, IRegistryLocator locator) : IRegistryClient
{
    public async Task<byte[]> GetManifestAsync(string repository, string digest, long maxBytes, CancellationToken cancellationToken)
    {
        var client = await ClientAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var manifest = await client.GetManifestAsync(repository, digest, cancellationToken).ConfigureAwait(false);
            return manifest.Content;
        }
        catch (OciContentException ex)
        {
            throw new PackageRejectedException(VerificationChecks.ManifestDigest, ex.Message);
        }
        catch (OciRegistryException ex)
        {
            throw new HttpRequestException(ex.Message, ex, ex.StatusCode);
        }
    }

    public async Task<byte[]?> GetSignatureAsync(string repository, string manifestDigest, CancellationToken cancellationToken)
    {
        var client = await ClientAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await client.GetSignatureAsync(repository, manifestDigest, cancellationToken).ConfigureAwait(false);
        }
        catch (OciContentException)
        {
            // Something stored under the signature tag that is not a signature of this manifest
            // is no signature; the caller refuses the package for want of one.
            return null;
        }
        catch (OciRegistryException ex)
        {
            throw new HttpRequestException(ex.Message, ex, ex.StatusCode);
        }
    }

    public async Task<BlobContent> OpenBlobAsync(string repository, string digest, long offset, CancellationToken cancellationToken)
    {
        var client = await ClientAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return new BlobContent(await client.OpenBlobAsync(repository, digest, offset, cancellationToken).ConfigureAwait(false), offset > 0);
        }
        catch (OciRegistryException ex) when (offset > 0 && ex.StatusCode is HttpStatusCode.OK or HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // The registry would not serve the range: start the blob over.
            return new BlobContent(await client.OpenBlobAsync(repository, digest, 0, cancellationToken).ConfigureAwait(false), false);
        }
        catch (OciRegistryException ex)
        {
            throw new HttpRequestException(ex.Message, ex, ex.StatusCode);
        }
    }

    private async Task<OciDistributionClient> ClientAsync(CancellationToken cancellationToken) =>
        new(http, await locator.GetRegistryUriAsync(cancellationToken).ConfigureAwait(false));
}
