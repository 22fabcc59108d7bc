using System.Text;
using System.Text.Json;
using EdgePlatform.Security.Tuf;
using static EdgePlatform.Security.Tests.Tuf.TufTestData;

namespace EdgePlatform.Security.Tests.Tuf;

public sealed class TufEnvelopesTests : IDisposable
{
    private static readonly byte[] Manifest = """{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"""u8.ToArray();

    private readonly TestKeys _keys = new();
    private readonly TufSigningKey _root;
    private readonly TufSigningKey _one;
    private readonly TufSigningKey _two;
    private readonly TufSigningKey _three;
    private readonly TufSigningKey _timestamp;
    private readonly RootMetadata _trusted;
    private readonly TargetsMetadata _targets = Targets(1, ("sensor:1", Entry(DigestA)));

    public TufEnvelopesTests()
    {
        _root = _keys.New("root");
        _one = _keys.New("targets 1");
        _two = _keys.New("targets 2");
        _three = _keys.New("targets 3");
        _timestamp = _keys.New("timestamp");
        _trusted = RootDocument(1, [_root], [_one, _two, _three], [_timestamp], targetsThreshold: 2);
    }

    public void Dispose() => _keys.Dispose();

    [Fact]
    public void RequireThreshold_TwoOfThreeTargetsKeys_Passes()
    {
        var envelope = Signed(_one, _three);

        TufEnvelopes.RequireThreshold(envelope, _trusted, TufRoles.Targets, TufChecks.TargetsSignature);

        Assert.Equal(new[] { _one.KeyId, _three.KeyId }.Order(StringComparer.Ordinal), TufEnvelopes.ValidRoleSigners(envelope, _trusted, TufRoles.Targets).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void RequireThreshold_OneOfThreeWhereTwoAreNeeded_ThrowsNamingTheCheck()
    {
        var exception = Assert.Throws<TufVerificationException>(
            () => TufEnvelopes.RequireThreshold(Signed(_two), _trusted, TufRoles.Targets, TufChecks.TargetsSignature));

        Assert.Equal(TufChecks.TargetsSignature, exception.Check);
        Assert.Contains("1 valid signature(s)", exception.Reason, StringComparison.Ordinal);
        Assert.Contains("2 required", exception.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void RequireThreshold_TheSameKeySigningTwice_CountsOnce()
    {
        var envelope = TufEnvelopes.AddSignatures(Signed(_one), [_one], Now.AddMinutes(1));

        Assert.Equal(2, envelope.Signatures.Count);
        Assert.Equal([_one.KeyId], TufEnvelopes.ValidRoleSigners(envelope, _trusted, TufRoles.Targets));
        Assert.Equal(
            TufChecks.TargetsSignature,
            Assert.Throws<TufVerificationException>(() => TufEnvelopes.RequireThreshold(envelope, _trusted, TufRoles.Targets, TufChecks.TargetsSignature)).Check);
    }

    [Fact]
    public void ValidRoleSigners_KeyOfAnotherRole_CountsForNothing()
    {
        var envelope = Signed(_one, _timestamp, _root);

        Assert.Equal([_one.KeyId], TufEnvelopes.ValidRoleSigners(envelope, _trusted, TufRoles.Targets));
        Assert.Throws<TufVerificationException>(() => TufEnvelopes.RequireThreshold(envelope, _trusted, TufRoles.Targets, TufChecks.TargetsSignature));
    }

    [Fact]
    public void ValidRoleSigners_KeyTheRootDoesNotKnow_CountsForNothing()
    {
        var stranger = _keys.New("stranger");

        Assert.Equal([_two.KeyId], TufEnvelopes.ValidRoleSigners(Signed(stranger, _two), _trusted, TufRoles.Targets));
    }

    [Fact]
    public void ValidRoleSigners_SignatureCarryingItsOwnCertificateUnderAListedKeyId_IsRefused()
    {
        // An attacker signs with its own key, embeds its own certificate, and claims to be key two.
        var attacker = _keys.New("targets 2");
        var honest = Signed(_one);
        var forged = attacker.Sign(CanonicalJson.Serialize(honest.Signed), Now);
        var envelope = honest with { Signatures = [.. honest.Signatures, new EnvelopeSignature(_two.KeyId, forged.Sig)] };

        Assert.Equal([_one.KeyId], TufEnvelopes.ValidRoleSigners(envelope, _trusted, TufRoles.Targets));
        Assert.Throws<TufVerificationException>(() => TufEnvelopes.RequireThreshold(envelope, _trusted, TufRoles.Targets, TufChecks.TargetsSignature));
    }

    [Fact]
    public void ValidRoleSigners_SignaturesMovedOntoAnotherDocument_CountForNothing()
    {
        var tampered = TufEnvelopes.Create(_targets with { Version = 2 }, TufJsonContext.Default.TargetsMetadata, [], Now) with
        {
            Signatures = Signed(_one, _two).Signatures,
        };

        Assert.Empty(TufEnvelopes.ValidRoleSigners(tampered, _trusted, TufRoles.Targets));
    }

    [Fact]
    public void ValidRoleSigners_DocumentReformatted_StillVerifies()
    {
        using var document = JsonDocument.Parse(TufEnvelopes.Serialize(Signed(_one, _two)));
        using var indented = new MemoryStream();
        using (var writer = new Utf8JsonWriter(indented, new JsonWriterOptions { Indented = true }))
        {
            document.WriteTo(writer);
        }

        var reparsed = TufEnvelopes.Parse(indented.ToArray());

        Assert.Contains((byte)'\n', indented.ToArray());
        TufEnvelopes.RequireThreshold(reparsed, _trusted, TufRoles.Targets, TufChecks.TargetsSignature);
    }

    [Fact]
    public void ValidCmsSigners_TwoSignerCms_NamesBothKeys()
    {
        var signature = TufSigningKey.SignDetached(Manifest, [_one, _two], Now);

        var signers = TufEnvelopes.ValidCmsSigners(Manifest, signature, _trusted, TufRoles.Targets);

        Assert.Equal(new[] { _one.KeyId, _two.KeyId }.Order(StringComparer.Ordinal), signers.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ValidCmsSigners_SignerOutsideTheRole_CountsForNothing()
    {
        var signature = TufSigningKey.SignDetached(Manifest, [_timestamp, _three], Now);

        Assert.Equal([_three.KeyId], TufEnvelopes.ValidCmsSigners(Manifest, signature, _trusted, TufRoles.Targets));
        Assert.Empty(TufEnvelopes.ValidCmsSigners(Manifest, signature, _trusted, TufRoles.Root));
    }

    [Fact]
    public void ValidCmsSigners_ContentChangedByOneByte_IsEmpty()
    {
        var signature = TufSigningKey.SignDetached(Manifest, [_one, _two], Now);
        var tampered = (byte[])Manifest.Clone();
        tampered[^2] ^= 0x01;

        Assert.Empty(TufEnvelopes.ValidCmsSigners(tampered, signature, _trusted, TufRoles.Targets));
    }

    [Fact]
    public void ValidCmsSigners_NotACmsSignature_IsEmpty()
    {
        Assert.Empty(TufEnvelopes.ValidCmsSigners(Manifest, "not a signature"u8, _trusted, TufRoles.Targets));
    }

    [Fact]
    public void Read_TargetsDocumentReadAsRoot_ThrowsTufFormatException()
    {
        var exception = Assert.Throws<TufFormatException>(() => TufEnvelopes.Read(Signed(_one), TufJsonContext.Default.RootMetadata, TufRoles.Root));

        Assert.Equal("the document is not root metadata", exception.Message);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("""{"signed":"root","signatures":[]}""")]
    [InlineData("""{"signed":{"type":"root"}}""")]
    public void Parse_NotAnEnvelope_ThrowsTufFormatException(string json)
    {
        Assert.Throws<TufFormatException>(() => TufEnvelopes.Parse(Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void Read_TypeThatIsNotAString_ThrowsTufFormatException()
    {
        var envelope = TufEnvelopes.Parse("""{"signed":{"type":1},"signatures":[]}"""u8);

        Assert.Throws<TufFormatException>(() => TufEnvelopes.Read(envelope, TufJsonContext.Default.RootMetadata, TufRoles.Root));
    }

    [Theory]
    [InlineData("""{"keyid":"KEY","sig":null}""")]
    [InlineData("""{"keyid":"KEY"}""")]
    [InlineData("null")]
    public void ValidRoleSigners_MalformedSignatureEntry_CountsForNothing(string signature)
    {
        var honest = Encoding.UTF8.GetString(TufEnvelopes.Serialize(Signed(_one)));
        var json = honest.Replace("\"signatures\":[", "\"signatures\":[" + signature.Replace("KEY", _two.KeyId, StringComparison.Ordinal) + ",", StringComparison.Ordinal);

        var envelope = TufEnvelopes.Parse(Encoding.UTF8.GetBytes(json));

        Assert.Equal([_one.KeyId], TufEnvelopes.ValidRoleSigners(envelope, _trusted, TufRoles.Targets));
    }

    [Fact]
    public void Serialize_ThenParse_KeepsDocumentAndSignatures()
    {
        var envelope = Signed(_one, _two);

        var parsed = TufEnvelopes.Parse(TufEnvelopes.Serialize(envelope));

        Assert.Equal(envelope.Signatures, parsed.Signatures);
        Assert.Equal(_targets.Targets["sensor:1"].Digest, TufEnvelopes.Read(parsed, TufJsonContext.Default.TargetsMetadata, TufRoles.Targets).Targets["sensor:1"].Digest);
    }

    private SignedEnvelope Signed(params TufSigningKey[] signers) =>
        TufEnvelopes.Create(_targets, TufJsonContext.Default.TargetsMetadata, signers, Now);
}
