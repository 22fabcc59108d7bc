using System.Text;

namespace EdgePlatform.Contracts.Tests;

public class ContentDigestTests
{
    private const string AbcDigest = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    [Fact]
    public void Compute_KnownContent_IsPrefixedLowercaseSha256()
    {
        Assert.Equal(AbcDigest, ContentDigest.Compute("abc"u8));
    }

    [Fact]
    public async Task ComputeAsync_Stream_MatchesCompute()
    {
        using var stream = new MemoryStream(Encoding.ASCII.GetBytes("abc"));

        Assert.Equal(AbcDigest, await ContentDigest.ComputeAsync(stream, CancellationToken.None));
    }

    [Theory]
    [InlineData(AbcDigest)]
    [InlineData("sha256:0000000000000000000000000000000000000000000000000000000000000000")]
    public void IsValid_WellFormedSha256_True(string digest)
    {
        Assert.True(ContentDigest.IsValid(digest));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("sha256:")]
    [InlineData("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")]
    [InlineData("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a")]
    [InlineData("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0")]
    [InlineData("sha256:ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015adxxxxxxx")]
    [InlineData("sha256:../../../../etc/passwd000000000000000000000000000000000000000000")]
    public void IsValid_Malformed_False(string? digest)
    {
        Assert.False(ContentDigest.IsValid(digest));
    }

    [Fact]
    public void Hex_ValidDigest_ReturnsHexPart()
    {
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", ContentDigest.Hex(AbcDigest));
    }

    [Fact]
    public void Hex_InvalidDigest_ThrowsNamingIt()
    {
        var exception = Assert.Throws<ArgumentException>(() => ContentDigest.Hex("sha256:../etc"));

        Assert.Contains("'sha256:../etc' is not a sha256 digest", exception.Message, StringComparison.Ordinal);
    }
}
