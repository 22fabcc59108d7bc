using Dapper;
using EdgePlatform.Security.Tuf;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Trust;

/// <summary>
/// The server's signed trust metadata (root versions, targets, timestamp) in the
/// <c>trust_metadata</c> table, byte for byte as signed, so every replica serves the same
/// documents and a release approved through one is trusted through all. The statements are the
/// same on SQLite and PostgreSQL (a keyed upsert of one blob), so one adapter serves both. The
/// TUF repository reads and writes synchronously; these are single-row statements.
/// </summary>
public sealed class TrustMetadataStore(StoreDatabase database, TimeProvider timeProvider) : ITufMetadataStore
{
    public byte[]? Read(string name)
    {
        using var connection = database.OpenConnection();
        return connection.QuerySingleOrDefault<byte[]>("SELECT document FROM trust_metadata WHERE name = @name", new { name });
    }

    public void Write(string name, ReadOnlySpan<byte> bytes)
    {
        using var connection = database.OpenConnection();
        connection.Execute(
            """
            INSERT INTO trust_metadata (name, document, updated_at) VALUES (@name, @document, @updatedAt)
            ON CONFLICT (name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at
            """,
            new { name, document = bytes.ToArray(), updatedAt = Time(timeProvider.GetUtcNow()) });
    }

    public void Delete(string name)
    {
        using var connection = database.OpenConnection();
        connection.Execute("DELETE FROM trust_metadata WHERE name = @name", new { name });
    }
}
