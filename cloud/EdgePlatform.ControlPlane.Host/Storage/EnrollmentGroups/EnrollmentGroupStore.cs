using Dapper;
using EdgePlatform.ControlPlane.Ports;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.EnrollmentGroups;

/// <summary>Enrollment groups and their shared keys (table <c>enrollment_groups</c>).</summary>
public abstract class EnrollmentGroupStore(StoreDatabase database) : IEnrollmentGroupStore
{
    public async Task AddGroupAsync(EnrollmentGroupRecord group, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(group);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO enrollment_groups (id, name, key, created_at) VALUES (@Id, @Name, @Key, @CreatedAt)",
            new { group.Id, group.Name, group.Key, CreatedAt = Time(group.CreatedAt) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<EnrollmentGroupRecord>> ListGroupsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<GroupRow>(
            new CommandDefinition("SELECT * FROM enrollment_groups ORDER BY created_at, id", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => new EnrollmentGroupRecord(r.Id, r.Name, r.Key, ParseTime(r.CreatedAt), r.RevokedAt is null ? null : ParseTime(r.RevokedAt)))];
    }

    public async Task<bool> RevokeGroupAsync(string id, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE enrollment_groups SET revoked_at = COALESCE(revoked_at, @at) WHERE id = @id",
            new { id, at = Time(at) },
            cancellationToken: cancellationToken)).ConfigureAwait(false) == 1;
    }

#pragma warning disable CA1812 // Instantiated by Dapper.
    private sealed class GroupRow
    {
        public string Id { get; set; } = "";
        public string Name { get; set; } = "";
        public string Key { get; set; } = "";
        public string CreatedAt { get; set; } = "";
        public string? RevokedAt { get; set; }
    }
#pragma warning restore CA1812
}
