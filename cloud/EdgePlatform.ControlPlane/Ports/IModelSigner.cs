namespace EdgePlatform.ControlPlane.Ports;

/// <summary>Signs model manifests; devices verify against <see cref="TrustRootPem"/>.</summary>
public interface IModelSigner
{
    /// <summary>A CMS detached signature over <paramref name="content"/>.</summary>
    byte[] Sign(ReadOnlySpan<byte> content);

    /// <summary>The root certificate(s) that signatures chain to, as PEM.</summary>
    string TrustRootPem { get; }
}
