using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.ControlPlane.Host.Tests.Apis;

public sealed class TrustApiTests(ControlPlaneFactory server) : IClassFixture<ControlPlaneFactory>
{
    private static readonly Uri Root = new("/api/v1/trust/root", UriKind.Relative);
    private static readonly Uri RootTwo = new("/api/v1/trust/root/2", UriKind.Relative);
    private static readonly Uri Targets = new("/api/v1/trust/targets", UriKind.Relative);
    private static readonly Uri Timestamp = new("/api/v1/trust/timestamp", UriKind.Relative);

    [Fact]
    public async Task GetRoot_FreshServer_IsVersionOneSignedByTheRootKeyOnDisk()
    {
        using var client = server.CreateClient();

        using var response = await client.GetAsync(Root);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(bytes, await client.GetByteArrayAsync(new Uri("/api/v1/trust/root/1", UriKind.Relative)));
        var envelope = TufEnvelopes.Parse(bytes);
        var root = TufEnvelopes.Read(envelope, TufJsonContext.Default.RootMetadata, TufRoles.Root);
        using var rootKey = server.LoadKey(TufRoles.Root);
        Assert.Equal(1, root.Version);
        Assert.Equal([rootKey.KeyId], TufEnvelopes.ValidRoleSigners(envelope, root, TufRoles.Root));
    }

    [Fact]
    public async Task GetRootVersion_BeforeAnyRotation_Returns404Problem()
    {
        using var client = server.CreateClient();

        using var response = await client.GetAsync(RootTwo);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("there is no root version 2", (await DeploymentsApiTests.ReadProblemAsync(response)).Detail);
    }

    [Fact]
    public async Task GetTimestamp_FreshServer_PinsTheServedTargetsFile()
    {
        using var client = server.CreateClient();
        var targetsFile = await client.GetByteArrayAsync(Targets);

        var timestamp = TufEnvelopes.Read(TufEnvelopes.Parse(await client.GetByteArrayAsync(Timestamp)), TufJsonContext.Default.TimestampMetadata, TufRoles.Timestamp);

        Assert.Equal(targetsFile.Length, timestamp.Targets.Length);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(targetsFile)), timestamp.Targets.Sha256);
    }

    [Fact]
    public async Task PutRoot_SignedOnlyByANewKey_Returns422NamingRootSignature()
    {
        using var client = server.CreateClient();
        using var newKey = TufSigningKey.Create("new root", DateTimeOffset.UtcNow);
        var next = await NextRootAsync(client, newKey);

        using var response = await client.PutAsync(Root, Body(next, newKey));

        await AssertRefusedAsync(response, TufChecks.RootSignature);
        using var lookup = await client.GetAsync(RootTwo);
        Assert.Equal(HttpStatusCode.NotFound, lookup.StatusCode);
    }

    [Fact]
    public async Task PutRoot_SignedByTheOldRootKeyAndTheNewKey_Returns200AndDevicesFollowIt()
    {
        await using var fresh = new ControlPlaneFactory();
        using var client = fresh.CreateClient();
        using var device = new TempDirectory();
        TufClient.Pin(device.Path, await client.GetByteArrayAsync(Root));
        using var oldKey = TufSigningKey.FromPem(File.ReadAllText(Path.Combine(fresh.DataDirectory, "keys", "root.pem")));
        using var newKey = TufSigningKey.Create("new root", DateTimeOffset.UtcNow);
        var next = await NextRootAsync(client, newKey);
        using (var before = await client.GetAsync(RootTwo))
        {
            Assert.Equal(HttpStatusCode.NotFound, before.StatusCode);
        }

        using (var refused = await client.PutAsync(Root, Body(next, newKey)))
        {
            await AssertRefusedAsync(refused, TufChecks.RootSignature);
        }

        var signed = Serialize(next, oldKey, newKey);
        using var response = await client.PutAsync(Root, Bytes(signed));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("version").GetInt64());
        Assert.Equal(signed, await client.GetByteArrayAsync(RootTwo));
        Assert.Equal(signed, await client.GetByteArrayAsync(Root));
        var tuf = new TufClient(device.Path, new ApiTufRemote(client), TimeProvider.System);
        await tuf.RefreshAsync(CancellationToken.None);
        Assert.Equal([newKey.KeyId], tuf.TrustedRoot().Roles[TufRoles.Root].KeyIds);
    }

    [Fact]
    public async Task PutTargets_HigherVersionThenALowerOne_StoresTheFirstAndRefusesTheSecondNamingTargetsRollback()
    {
        using var client = server.CreateClient();
        using var targetsKey = server.LoadKey(TufRoles.Targets);
        var current = ReadTargets(await client.GetByteArrayAsync(Targets));
        var newer = SignTargets(current with { Version = current.Version + 2 }, targetsKey);
        var older = SignTargets(current with { Version = current.Version + 1 }, targetsKey);

        using (var accepted = await client.PutAsync(Targets, Bytes(newer)))
        {
            Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        }

        using var response = await client.PutAsync(Targets, Bytes(older));

        await AssertRefusedAsync(response, TufChecks.TargetsRollback);
        Assert.Equal(newer, await client.GetByteArrayAsync(Targets));
        var timestamp = TufEnvelopes.Read(TufEnvelopes.Parse(await client.GetByteArrayAsync(Timestamp)), TufJsonContext.Default.TimestampMetadata, TufRoles.Timestamp);
        Assert.Equal(current.Version + 2, timestamp.Targets.Version);
    }

    [Fact]
    public async Task PutTargets_SignedByAnOfflineTargetsKeyTheRootNames_IsServedAndPinnedByTheTimestamp()
    {
        await using var fresh = new ControlPlaneFactory();
        using var client = fresh.CreateClient();
        using var rootKey = fresh.LoadKey(TufRoles.Root);
        using var offline = TufSigningKey.Create("offline targets", DateTimeOffset.UtcNow);
        var current = TufEnvelopes.Read(TufEnvelopes.Parse(await client.GetByteArrayAsync(Root)), TufJsonContext.Default.RootMetadata, TufRoles.Root);
        var keys = new Dictionary<string, TufKey>(current.Keys, StringComparer.Ordinal) { [offline.KeyId] = offline.PublicKey };
        var roles = new Dictionary<string, RoleKeys>(current.Roles, StringComparer.Ordinal) { [TufRoles.Targets] = new RoleKeys([offline.KeyId], 1) };
        using (var rotated = await client.PutAsync(Root, Body(current with { Version = 2, Keys = keys, Roles = roles }, rootKey)))
        {
            Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        }

        // A release manager signs a week's worth of targets on the offline machine.
        var served = ReadTargets(await client.GetByteArrayAsync(Targets));
        var signed = SignTargets(served with { Version = served.Version + 1, Expires = DateTimeOffset.UtcNow.AddDays(7) }, offline);
        using var response = await client.PutAsync(Targets, Bytes(signed));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(signed, await client.GetByteArrayAsync(Targets));
        var timestamp = TufEnvelopes.Read(TufEnvelopes.Parse(await client.GetByteArrayAsync(Timestamp)), TufJsonContext.Default.TimestampMetadata, TufRoles.Timestamp);
        Assert.Equal(served.Version + 1, timestamp.Targets.Version);
    }

    [Fact]
    public async Task PutTargets_SignedByTheTimestampKey_Returns422NamingTargetsSignature()
    {
        using var client = server.CreateClient();
        using var timestampKey = server.LoadKey(TufRoles.Timestamp);
        var current = ReadTargets(await client.GetByteArrayAsync(Targets));

        using var response = await client.PutAsync(Targets, Bytes(SignTargets(current with { Version = current.Version + 100 }, timestampKey)));

        await AssertRefusedAsync(response, TufChecks.TargetsSignature);
    }

    [Fact]
    public async Task PutRoot_NotJson_Returns400()
    {
        using var client = server.CreateClient();

        using var response = await client.PutAsync(Root, Bytes("not metadata"u8.ToArray()));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("metadata is not valid JSON", (await DeploymentsApiTests.ReadProblemAsync(response)).Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"signed":{"type":1},"signatures":[]}""")]
    [InlineData("""{"signed":{"type":"targets","version":99},"signatures":[null]}""")]
    public async Task PutMetadata_MalformedEnvelope_Returns400(string body)
    {
        using var client = server.CreateClient();

        using var root = await client.PutAsync(Root, Bytes(System.Text.Encoding.UTF8.GetBytes(body)));
        using var targets = await client.PutAsync(Targets, Bytes(System.Text.Encoding.UTF8.GetBytes(body)));

        Assert.Equal((HttpStatusCode.BadRequest, HttpStatusCode.BadRequest), (root.StatusCode, targets.StatusCode));
    }

    [Fact]
    public async Task PutTargets_EmptyBody_Returns400NamingTheBody()
    {
        using var client = server.CreateClient();

        using var response = await client.PutAsync(Targets, Bytes([]));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(["body"], (await DeploymentsApiTests.ReadProblemAsync(response)).Errors!.Keys);
    }

    private static async Task<RootMetadata> NextRootAsync(HttpClient client, TufSigningKey newRootKey)
    {
        var current = TufEnvelopes.Read(TufEnvelopes.Parse(await client.GetByteArrayAsync(Root)), TufJsonContext.Default.RootMetadata, TufRoles.Root);
        var keys = current.Keys.Where(k => !current.Roles[TufRoles.Root].KeyIds.Contains(k.Key)).ToDictionary(k => k.Key, k => k.Value, StringComparer.Ordinal);
        keys[newRootKey.KeyId] = newRootKey.PublicKey;
        var roles = new Dictionary<string, RoleKeys>(current.Roles, StringComparer.Ordinal) { [TufRoles.Root] = new RoleKeys([newRootKey.KeyId], 1) };
        return current with { Version = current.Version + 1, Keys = keys, Roles = roles };
    }

    private static TargetsMetadata ReadTargets(byte[] bytes) =>
        TufEnvelopes.Read(TufEnvelopes.Parse(bytes), TufJsonContext.Default.TargetsMetadata, TufRoles.Targets);

    private static byte[] SignTargets(TargetsMetadata targets, TufSigningKey key) =>
        TufEnvelopes.Serialize(TufEnvelopes.Create(targets, TufJsonContext.Default.TargetsMetadata, [key], DateTimeOffset.UtcNow));

    private static byte[] Serialize(RootMetadata root, params TufSigningKey[] signers) =>
        TufEnvelopes.Serialize(TufEnvelopes.Create(root, TufJsonContext.Default.RootMetadata, signers, DateTimeOffset.UtcNow));

    private static ByteArrayContent Body(RootMetadata root, params TufSigningKey[] signers) => Bytes(Serialize(root, signers));

    private static ByteArrayContent Bytes(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response, string check)
    {
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await DeploymentsApiTests.ReadProblemAsync(response);
        Assert.Equal(422, problem.Status);
        Assert.StartsWith($"{check} check failed: ", problem.Detail, StringComparison.Ordinal);
    }
}
