using Dapper;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Access;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Access;

/// <summary>
/// API tokens and the audit log (tables <c>api_tokens</c> and <c>audit_log</c>). The log is
/// append-only in the schema itself on both databases, so no code path here can rewrite history.
/// </summary>
public abstract class AccessStore(StoreDatabase database) : IAccessStore
{
    public async Task AddTokenAsync(ApiTokenRecord token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO api_tokens (id, name, role, hash, created_by, created_at) VALUES (@Id, @Name, @Role, @Hash, @CreatedBy, @CreatedAt)",
            new { token.Id, token.Name, token.Role, token.Hash, token.CreatedBy, CreatedAt = Time(token.CreatedAt) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<ApiTokenRecord?> FindTokenAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<TokenRow>(
            new CommandDefinition("SELECT * FROM api_tokens WHERE id = @id", new { id }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<ApiTokenRecord>> ListTokensAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<TokenRow>(
            new CommandDefinition("SELECT * FROM api_tokens ORDER BY created_at, id", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToRecord())];
    }

    public async Task<bool> RevokeTokenAsync(string id, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);

        // A second revoke keeps the first time: the token stopped working then.
        var changed = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, @at) WHERE id = @id",
            new { id, at = Time(at) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return changed == 1;
    }

    public async Task AppendAuditAsync(DateTimeOffset at, string actor, string action, int status, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO audit_log (at, actor, action, status) VALUES (@at, @actor, @action, @status)",
            new { at = Time(at), actor, action, status = (long)status },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<AuditEntry>> ListAuditAsync(int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<AuditRow>(new CommandDefinition(
            "SELECT * FROM audit_log ORDER BY sequence DESC LIMIT @limit", new { limit = (long)limit }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => new AuditEntry(r.Sequence, ParseTime(r.At), r.Actor, r.Action, (int)r.Status))];
    }

#pragma warning disable CA1812 // Instantiated by Dapper.
    private sealed class TokenRow
    {
        public string Id { get; set; } = "";
        public string Name { get; set; } = "";
        public string Role { get; set; } = "";
        public string Hash { get; set; } = "";
        public string CreatedBy { get; set; } = "";
        public string CreatedAt { get; set; } = "";
        public string? RevokedAt { get; set; }

        public ApiTokenRecord ToRecord() =>
            new(Id, Name, Role, Hash, CreatedBy, ParseTime(CreatedAt), RevokedAt is null ? null : ParseTime(RevokedAt));
    }

    // Both databases report the status column as a 64-bit integer.
    private sealed class AuditRow
    {
        public long Sequence { get; set; }
        public string At { get; set; } = "";
        public string Actor { get; set; } = "";
        public string Action { get; set; } = "";
        public long Status { get; set; }
    }
#pragma warning restore CA1812
}
