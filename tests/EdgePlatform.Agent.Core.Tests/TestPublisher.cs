using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Contracts;
using EdgePlatform.Security;

namespace EdgePlatform.Agent.Core.Tests;

/// <summary>A model package as the control plane publishes it: blobs, signed manifest and the reference a deployment pins.</summary>
internal sealed record TestPackage(ModelReference Reference, byte[] ManifestBytes, OciManifest Manifest, byte[] CardBytes, byte[] ModelBytes)
{
    public string CardDigest => Manifest.Config.Digest;

    public string ModelDigest => Manifest.Layers[0].Digest;
}

/// <summary>Builds real CMS-signed model packages under its own trust root.</summary>
internal sealed class TestPublisher : IDisposable
{
    public const string Repository = "models/sensor-anomaly";

    private readonly X509Certificate2 _signingCertificate;
    private readonly CmsModelSigner _signer;

    public TestPublisher(string rootName = "EdgePlatform test root")
    {
        var now = DateTimeOffset.UtcNow;
        Root = SigningCertificates.CreateRoot(rootName, now, TimeSpan.FromDays(1));
        _signingCertificate = SigningCertificates.IssueSigningCertificate(Root, rootName + " signer", now, TimeSpan.FromHours(12));
        _signer = new CmsModelSigner(_signingCertificate);
    }

    public X509Certificate2 Root { get; }

    public ITrustStore TrustStore => new FixedTrustStore(new CmsSignatureVerifier([Root], TimeProvider.System));

    public TestPackage Build(
        string name,
        string version,
        string? cardName = null,
        string? cardVersion = null,
        string artifactType = MediaTypes.ModelArtifact)
    {
        var modelBytes = Encoding.UTF8.GetBytes($"onnx graph of {name}:{version}");
        var card = new ModelCard(
            cardName ?? name,
            cardVersion ?? version,
            ModelTasks.BinaryClassification,
            [new ModelInput("temperature", TensorElementTypes.Float32, [-1, 1], "temperature")],
            [new ModelOutput("PredictedLabel", TensorElementTypes.Bool, [-1, 1], PredictionFields.Label)],
            new Dictionary<string, double> { ["auc"] = 0.97 },
            new ModelLineage("run-1", "sensors", ContentDigest.Compute("dataset"u8), 100, "FastTree", new Dictionary<string, string>(), "test"),
            [new FeatureBaseline("temperature", 20, 2, 10, 30)],
            DateTimeOffset.UnixEpoch);
        var cardBytes = JsonSerializer.SerializeToUtf8Bytes(card, ContractsJsonContext.Default.ModelCard);
        var manifest = new OciManifest(
            2,
            MediaTypes.OciManifest,
            artifactType,
            new OciDescriptor(MediaTypes.ModelCard, ContentDigest.Compute(cardBytes), cardBytes.Length),
            [new OciDescriptor(
                MediaTypes.Onnx,
                ContentDigest.Compute(modelBytes),
                modelBytes.Length,
                new Dictionary<string, string> { [OciManifest.TitleAnnotation] = "model.onnx" })]);
        var manifestBytes = JsonSerializer.SerializeToUtf8Bytes(manifest, ContractsJsonContext.Default.OciManifest);
        var signature = _signer.Sign(manifestBytes, DateTimeOffset.UtcNow);
        var reference = new ModelReference(
            Repository, name, version, ContentDigest.Compute(manifestBytes), manifestBytes.Length, Convert.ToBase64String(signature));
        return new TestPackage(reference, manifestBytes, manifest, cardBytes, modelBytes);
    }

    public void Dispose()
    {
        _signingCertificate.Dispose();
        Root.Dispose();
    }

    private sealed class FixedTrustStore(CmsSignatureVerifier verifier) : ITrustStore
    {
        public ValueTask<CmsSignatureVerifier> GetVerifierAsync(CancellationToken cancellationToken) => ValueTask.FromResult(verifier);
    }
}
