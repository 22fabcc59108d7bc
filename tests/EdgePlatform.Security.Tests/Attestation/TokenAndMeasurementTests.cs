using EdgePlatform.Security.Attestation;
using EdgePlatform.Security.Tokens;

namespace EdgePlatform.Security.Tests.Attestation;

public sealed class TokenSignerTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 1, 10, 9, 0, 0, TimeSpan.Zero);
    private readonly TokenSigner _signer = TokenSigner.Create("tokens", Now.AddDays(-1));

    public void Dispose() => _signer.Dispose();

    [Fact]
    public void Validate_OwnTokenWithinItsLife_ReturnsTheClaims()
    {
        var token = _signer.Issue(Claims("aud-a", Now, Now.AddMinutes(5)));

        var claims = _signer.Validate(token, "aud-a", Now.AddMinutes(1), out _);

        Assert.Equal("dev-1", claims!.Subject);
        Assert.Equal("pull", claims.Access!.Single().Actions.Single());
    }

    [Fact]
    public void Validate_ExpiredWrongAudienceForeignOrAltered_Null()
    {
        var token = _signer.Issue(Claims("aud-a", Now, Now.AddMinutes(5)));
        using var stranger = TokenSigner.Create("stranger", Now.AddDays(-1));
        var foreign = stranger.Issue(Claims("aud-a", Now, Now.AddMinutes(5)));
        var parts = token.Split('.');
        var altered = parts[0] + "." + parts[1][..^2] + (parts[1][^2] == 'A' ? "B" : "A") + parts[1][^1] + "." + parts[2];

        Assert.Null(_signer.Validate(token, "aud-a", Now.AddMinutes(5), out var expired));
        Assert.Null(_signer.Validate(token, "aud-b", Now, out var audience));
        Assert.Null(_signer.Validate(foreign, "aud-a", Now, out var signature));
        Assert.Null(_signer.Validate(altered, "aud-a", Now, out _));
        Assert.Null(_signer.Validate("not-a-token", "aud-a", Now, out _));
        Assert.Contains("expired", expired, StringComparison.Ordinal);
        Assert.Contains("'aud-a'", audience, StringComparison.Ordinal);
        Assert.Contains("signature", signature, StringComparison.Ordinal);
    }

    [Fact]
    public void Issue_HeaderCarriesTheCertificateForARegistryBundle()
    {
        var header = System.Text.Json.JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(_signer.Issue(Claims("a", Now, Now.AddMinutes(1))).Split('.')[0]));

        Assert.Equal("ES256", header.RootElement.GetProperty("alg").GetString());
        var x5c = Convert.FromBase64String(header.RootElement.GetProperty("x5c")[0].GetString()!);
        using var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(x5c);
        Assert.Contains(certificate.ExportCertificatePem(), _signer.CertificatePem, StringComparison.Ordinal);
    }

    private static TokenClaims Claims(string audience, DateTimeOffset issued, DateTimeOffset expires) =>
        new("edgeplatform", "dev-1", audience, issued.ToUnixTimeSeconds(), issued.ToUnixTimeSeconds(), expires.ToUnixTimeSeconds(), "id-1",
            [new TokenAccess("repository", "models/m", ["pull"])]);
}

public sealed class AgentMeasurementsTests : IDisposable
{
    private readonly TempDirectory _build = new();

    public void Dispose() => _build.Dispose();

    [Fact]
    public void MeasureBuild_AnyBinaryChangedOrAdded_ChangesTheMeasurement()
    {
        File.WriteAllBytes(Path.Combine(_build.Path, "EdgePlatform.Agent.dll"), [1, 2, 3]);
        File.WriteAllText(Path.Combine(_build.Path, "EdgePlatform.Agent.deps.json"), "{}");
        var original = AgentMeasurements.MeasureBuild(_build.Path);

        File.WriteAllText(Path.Combine(_build.Path, "appsettings.json"), "{\"changed\":true}");
        var configurationOnly = AgentMeasurements.MeasureBuild(_build.Path);
        File.WriteAllBytes(Path.Combine(_build.Path, "EdgePlatform.Agent.dll"), [1, 2, 4]);
        var changed = AgentMeasurements.MeasureBuild(_build.Path);
        File.WriteAllBytes(Path.Combine(_build.Path, "EdgePlatform.Agent.dll"), [1, 2, 3]);
        File.WriteAllBytes(Path.Combine(_build.Path, "Extra.dll"), [9]);
        var added = AgentMeasurements.MeasureBuild(_build.Path);

        Assert.StartsWith("sha256:", original, StringComparison.Ordinal);
        Assert.Equal(original, configurationOnly);
        Assert.NotEqual(original, changed);
        Assert.NotEqual(original, added);
    }

    [Fact]
    public void MeasureBuild_NoBinaries_Throws()
    {
        Assert.Throws<FileNotFoundException>(() => AgentMeasurements.MeasureBuild(_build.Path));
        Assert.Throws<DirectoryNotFoundException>(() => AgentMeasurements.MeasureBuild(Path.Combine(_build.Path, "missing")));
    }
}
