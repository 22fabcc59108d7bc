using System.Net;
using System.Net.Http.Json;
using System.Text;
using Azure.Storage.Blobs;
using EdgePlatform.Contracts;
using Npgsql;

namespace EdgePlatform.ControlPlane.Host.Tests.Datasets;

/// <summary>SQL and blob sources against the real services: PostgreSQL and Azurite from tests/run.sh.</summary>
[Trait("Category", "Integration")]
public sealed class DatasetSourcesIntegrationTests(ControlPlaneFactory server) : IClassFixture<ControlPlaneFactory>, IDisposable
{
    private const string Secret = "pg-secret-9b1e";
    private static readonly ContractsJsonContext Json = ContractsJsonContext.Default;
    private readonly string _suffix = Guid.NewGuid().ToString("N")[..10];
    private readonly HttpClient _client = server.CreateClient();

    public void Dispose() => _client.Dispose();

    [Fact]
    public async Task SqlSource_OnPostgreSql_SnapshotsTheResultByDigestAndAFailingQueryAddsNothing()
    {
        var connectionString = TestServices.Require(TestServices.PostgreSql, "PostgreSQL");
        var table = $"readings_{_suffix}";
        await using (var db = new NpgsqlConnection(connectionString))
        {
            await db.OpenAsync();
            await using var command = db.CreateCommand();
            command.CommandText = $"CREATE TABLE {table} (id integer, temperature double precision, site text, ok boolean); " +
                $"INSERT INTO {table} VALUES (1, 20.5, 'north', true), (2, NULL, 'south, east', false), (3, -3.25, NULL, true);";
            await command.ExecuteNonQueryAsync();
        }

        // Trust authentication ignores the password; it stands for one that must never be shown.
        var connection = await PostAsync("/api/v1/datasets/connections", new DatasetConnectionRequest("warehouse", "postgresql", connectionString + $";Password={Secret}"), Json.DatasetConnectionRequest, Json.DatasetConnectionInfo);
        Assert.StartsWith("127.0.0.1:", connection.Host, StringComparison.Ordinal);

        var version = await PostAsync(
            "/api/v1/datasets/plant/versions",
            new RegisterDatasetRequest(new DatasetSourceRequest(DatasetSourceKinds.Sql, Connection: "warehouse", Query: $"SELECT id, temperature, site, ok FROM {table} ORDER BY id")),
            Json.RegisterDatasetRequest,
            Json.DatasetVersionInfo);

        // Written by the one CSV writer: booleans as true/false, so the snapshot reads back with its kinds.
        var expected = "id,temperature,site,ok\n1,20.5,north,true\n2,,\"south, east\",false\n3,-3.25,,true\n";
        Assert.Equal(ContentDigest.Compute(Encoding.UTF8.GetBytes(expected)), version.SnapshotDigest);
        Assert.Equal(3, version.Rows);
        Assert.Equal(DatasetSourceKinds.Sql, version.Source.Kind);
        Assert.DoesNotContain(Secret, version.Source.Description, StringComparison.Ordinal);

        using var failing = await _client.PostAsJsonAsync(
            new Uri("/api/v1/datasets/plant/versions", UriKind.Relative),
            new RegisterDatasetRequest(new DatasetSourceRequest(DatasetSourceKinds.Sql, Connection: "warehouse", Query: $"SELECT * FROM missing_{_suffix}")),
            Json.RegisterDatasetRequest);
        var problem = await failing.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, failing.StatusCode);
        Assert.Contains($"missing_{_suffix}", problem, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, problem, StringComparison.Ordinal);
        Assert.Single(await _client.GetFromJsonAsync(new Uri("/api/v1/datasets/plant/versions", UriKind.Relative), Json.IReadOnlyListDatasetVersionInfo) ?? []);
        Assert.DoesNotContain(Secret, await _client.GetStringAsync(new Uri("/api/v1/datasets/connections", UriKind.Relative)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BlobSource_OnAzurite_SnapshotsTheBlobByDigestAndAMissingBlobAddsNothing()
    {
        var connectionString = TestServices.Require(TestServices.Azurite, "Azurite");
        var container = new BlobContainerClient(connectionString, $"datasets-{_suffix}");
        await container.CreateAsync();
        var csv = Encoding.UTF8.GetBytes("temperature,site,label\n20.5,north,0\n21,south,1\n");
        await container.GetBlobClient("exports/readings.csv").UploadAsync(new BinaryData(csv));

        await PostAsync("/api/v1/datasets/connections", new DatasetConnectionRequest("lake", "azure-blob", connectionString), Json.DatasetConnectionRequest, Json.DatasetConnectionInfo);
        var version = await PostAsync(
            "/api/v1/datasets/lake-readings/versions",
            new RegisterDatasetRequest(new DatasetSourceRequest(DatasetSourceKinds.Blob, Connection: "lake", Container: container.Name, Blob: "exports/readings.csv")),
            Json.RegisterDatasetRequest,
            Json.DatasetVersionInfo);

        Assert.Equal(ContentDigest.Compute(csv), version.SnapshotDigest);
        Assert.Equal(2, version.Rows);

        using var missing = await _client.PostAsJsonAsync(
            new Uri("/api/v1/datasets/lake-readings/versions", UriKind.Relative),
            new RegisterDatasetRequest(new DatasetSourceRequest(DatasetSourceKinds.Blob, Connection: "lake", Container: container.Name, Blob: "exports/none.csv")),
            Json.RegisterDatasetRequest);
        var problem = await missing.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Contains("BlobNotFound", problem, StringComparison.Ordinal);
        Assert.DoesNotContain("AccountKey", problem, StringComparison.Ordinal);
        Assert.Single(await _client.GetFromJsonAsync(new Uri("/api/v1/datasets/lake-readings/versions", UriKind.Relative), Json.IReadOnlyListDatasetVersionInfo) ?? []);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(server.DataDirectory, "datasets", "staging")));
    }

    private async Task<TResponse> PostAsync<TRequest, TResponse>(string path, TRequest body, System.Text.Json.Serialization.Metadata.JsonTypeInfo<TRequest> requestType, System.Text.Json.Serialization.Metadata.JsonTypeInfo<TResponse> responseType)
    {
        using var response = await _client.PostAsJsonAsync(new Uri(path, UriKind.Relative), body, requestType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        Assert.DoesNotContain(Secret, text, StringComparison.Ordinal);
        return System.Text.Json.JsonSerializer.Deserialize(text, responseType)!;
    }
}
