namespace EdgePlatform.Contracts;

public static class MediaTypes
{
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciEmptyConfig = "application/vnd.oci.empty.v1+json";

    /// <summary>An image index: one manifest per platform of a containerized model.</summary>
    public const string OciImageIndex = "application/vnd.oci.image.index.v1+json";

    /// <summary>The config blob of a container image (entrypoint, environment, layer diff ids).</summary>
    public const string OciImageConfig = "application/vnd.oci.image.config.v1+json";

    /// <summary>A container image layer: a gzip-compressed tar of files.</summary>
    public const string OciImageLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";

    /// <summary>The manifest <c>artifactType</c> of a model package.</summary>
    public const string ModelArtifact = "application/vnd.edgeplatform.model.v1+json";

    /// <summary>Config blob of a model package: the model card.</summary>
    public const string ModelCard = "application/vnd.edgeplatform.model.card.v1+json";

    public const string Onnx = "application/vnd.onnx";

    /// <summary>The ML.NET model the ONNX graph was exported from, kept for lineage and parity checks.</summary>
    public const string MlNetModel = "application/vnd.edgeplatform.mlnet.model.v1+zip";

    public const string CmsSignature = "application/pkcs7-signature";

    /// <summary>
    /// <c>artifactType</c> of a signature stored beside a package, cosign-style, under the tag
    /// <see cref="OciManifest.SignatureTag"/> where a registry has no referrers API.
    /// </summary>
    public const string SignatureArtifact = "application/vnd.edgeplatform.signature.v1+json";

    public const string ArrowStream = "application/vnd.apache.arrow.stream";

    public const string Json = "application/json";
}
