using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Access;

/// <summary>Operator tokens (hashes only) and the append-only audit log.</summary>
public interface IAccessStore
{
    Task AddTokenAsync(ApiTokenRecord token, CancellationToken cancellationToken);

    Task<ApiTokenRecord?> FindTokenAsync(string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<ApiTokenRecord>> ListTokensAsync(CancellationToken cancellationToken);

    /// <summary>Marks a token revoked; false when there is no such token.</summary>
    Task<bool> RevokeTokenAsync(string id, DateTimeOffset at, CancellationToken cancellationToken);

    Task AppendAuditAsync(DateTimeOffset at, string actor, string action, int status, CancellationToken cancellationToken);

    /// <summary>The newest entries first.</summary>
    Task<IReadOnlyList<AuditEntry>> ListAuditAsync(int limit, CancellationToken cancellationToken);
}

public sealed record ApiTokenRecord(string Id, string Name, string Role, string Hash, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt)
{
    public ApiTokenInfo ToInfo() => new(Id, Name, Role, CreatedBy, CreatedAt, RevokedAt);
}
