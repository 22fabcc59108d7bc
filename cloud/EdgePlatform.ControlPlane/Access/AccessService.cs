using System.Security.Cryptography;
using System.Text;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Logging;

namespace EdgePlatform.ControlPlane.Access;

/// <summary>
/// Operator API tokens: <c>ept_&lt;id&gt;_&lt;secret&gt;</c>, 256-bit secrets stored only as
/// SHA-256 hashes (a slow hash adds nothing for random secrets), each with one role.
/// </summary>
public sealed partial class AccessService(IAccessStore store, TimeProvider timeProvider, ILogger<AccessService> logger)
{
    private const string Prefix = "ept_";

    public async Task<CreatedToken> CreateAsync(CreateTokenRequest? request, string createdBy, CancellationToken cancellationToken)
    {
        var name = request?.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 100)
        {
            throw new RequestValidationException("name", "is required (1-100 characters): whose token this is");
        }

        var role = request?.Role?.Trim();
        if (role is null || !OperatorRoles.All.Contains(role, StringComparer.Ordinal))
        {
            throw new RequestValidationException("role", $"must be one of: {string.Join(", ", OperatorRoles.All)}");
        }

        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var record = new ApiTokenRecord(id, name, role, Hash(secret), createdBy, timeProvider.GetUtcNow(), null);
        await store.AddTokenAsync(record, cancellationToken).ConfigureAwait(false);
        LogCreated(id, name, role, createdBy);
        return new CreatedToken($"{Prefix}{id}_{secret}", record.ToInfo());
    }

    /// <summary>The identity a bearer token stands for, or null when it is malformed, unknown or revoked.</summary>
    public async Task<WhoAmI?> AuthenticateAsync(string? token, CancellationToken cancellationToken)
    {
        if (token is null || !token.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var parts = token[Prefix.Length..].Split('_');
        if (parts.Length != 2)
        {
            return null;
        }

        var record = await store.FindTokenAsync(parts[0], cancellationToken).ConfigureAwait(false);
        if (record is null || record.RevokedAt is not null)
        {
            return null;
        }

        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(parts[1])), Encoding.ASCII.GetBytes(record.Hash))
            ? new WhoAmI(record.Name, record.Role, record.Id)
            : null;
    }

    public async Task<IReadOnlyList<ApiTokenInfo>> ListAsync(CancellationToken cancellationToken) =>
        [.. (await store.ListTokensAsync(cancellationToken).ConfigureAwait(false)).Select(t => t.ToInfo())];

    public async Task RevokeAsync(string id, string revokedBy, CancellationToken cancellationToken)
    {
        if (!await store.RevokeTokenAsync(id, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false))
        {
            throw new NotFoundException($"token '{id}' does not exist");
        }

        LogRevoked(id, revokedBy);
    }

    /// <summary>On a server with no token yet, creates the first admin token and returns it; otherwise null.</summary>
    public async Task<CreatedToken?> CreateInitialAdminAsync(CancellationToken cancellationToken)
    {
        if ((await store.ListTokensAsync(cancellationToken).ConfigureAwait(false)).Count > 0)
        {
            return null;
        }

        return await CreateAsync(new CreateTokenRequest("initial-admin", OperatorRoles.Admin), "server", cancellationToken).ConfigureAwait(false);
    }

    public Task AuditAsync(string actor, string action, int status, CancellationToken cancellationToken) =>
        store.AppendAuditAsync(timeProvider.GetUtcNow(), actor, action, status, cancellationToken);

    public Task<IReadOnlyList<AuditEntry>> ReadAuditAsync(int limit, CancellationToken cancellationToken) =>
        limit is < 1 or > 10_000
            ? throw new RequestValidationException("limit", "must be between 1 and 10000")
            : store.ListAuditAsync(limit, cancellationToken);

    private static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    [LoggerMessage(EventId = 800, Level = LogLevel.Information, Message = "Token {Id} ({Name}, {Role}) created by {CreatedBy}")]
    private partial void LogCreated(string id, string name, string role, string createdBy);

    [LoggerMessage(EventId = 801, Level = LogLevel.Information, Message = "Token {Id} revoked by {RevokedBy}")]
    private partial void LogRevoked(string id, string revokedBy);
}
