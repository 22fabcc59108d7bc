using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using EdgePlatform.Contracts;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgePlatform.ControlPlane.Host.Tests.Datasets;

public sealed class DatasetsApiTests : IAsyncLifetime, IDisposable
{
    /// <summary>Part of a connection string: SQLite's has no password, so the directory of its database file stands for what must not be shown.</summary>
    private const string Secret = "private-share-7f3c";
    private static readonly ContractsJsonContext Json = ContractsJsonContext.Default;

    private readonly string _root = Directory.CreateTempSubdirectory("edgeplatform-datasets-root-").FullName;
    private readonly LogCapture _logs = new();
    private readonly List<string> _bodies = [];
    private ControlPlaneFactory _server = null!;
    private WebApplicationFactory<Program> _host = null!;
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        _server = ControlPlaneFactory.With(new Dictionary<string, string>
        {
            ["Datasets:AllowedPaths:0"] = _root,
            ["Logging:LogLevel:Default"] = "Trace",
        });
        _host = _server.WithWebHostBuilder(builder => builder.ConfigureServices(services => services.AddSingleton<ILoggerProvider>(_logs)));
        _client = _host.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _host.DisposeAsync();
        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    public void Dispose() => _logs.Dispose();

    [Fact]
    public async Task Upload_InChunksResumedAfterAWrongOffset_RegistersTheWholeFileByDigest()
    {
        var csv = Encoding.UTF8.GetBytes(Csv(rows: 500));
        var upload = await ReadAsync(await _client.PostAsync(Uri("/api/v1/datasets/uploads"), null), Json.DatasetUploadInfo);
        var half = csv.Length / 2;

        var first = await PatchAsync(upload.Id, csv.AsMemory(0, half), 0, csv.Length);
        Assert.Equal(half, first.Offset);

        // A client that lost track sends from the wrong place: refused, and the offset tells it where to go on.
        using (var wrong = await SendChunkAsync(upload.Id, csv.AsMemory(10, 20), 10, csv.Length))
        {
            Assert.Equal(HttpStatusCode.Conflict, wrong.StatusCode);
        }

        var resumed = await ReadAsync(await _client.GetAsync(Uri($"/api/v1/datasets/uploads/{upload.Id}")), Json.DatasetUploadInfo);
        Assert.Equal(half, resumed.Offset);
        Assert.Equal(csv.Length, (await PatchAsync(upload.Id, csv.AsMemory(half), half, csv.Length)).Offset);

        var version = await RegisterAsync("sensors", new DatasetSourceRequest(DatasetSourceKinds.Upload, UploadId: upload.Id, FileName: "sensors.csv"));

        Assert.Equal(1, version.Version);
        Assert.Equal(ContentDigest.Compute(csv), version.SnapshotDigest);
        Assert.Equal(500, version.Rows);
        Assert.Equal(csv.Length, version.SizeBytes);
        Assert.Equal(["temperature:numeric", "site:categorical", "label:numeric"], version.Columns.Select(c => $"{c.Name}:{c.Kind}"));
        Assert.Equal(DatasetSourceKinds.Upload, version.Source.Kind);
        using var gone = await _client.GetAsync(Uri($"/api/v1/datasets/uploads/{upload.Id}"));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task PathSource_OutsideTheAllowedRoots_IsRefusedAndInsideIsRegistered()
    {
        var outside = Path.Combine(_server.DataDirectory, "outside.csv");
        await File.WriteAllTextAsync(outside, Csv(rows: 20));
        using var refused = await _client.PostAsJsonAsync(Uri("/api/v1/datasets/x/versions"), new RegisterDatasetRequest(new DatasetSourceRequest(DatasetSourceKinds.Path, Path: outside)), Json.RegisterDatasetRequest);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("Datasets:AllowedPaths", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var escape = await _client.PostAsJsonAsync(Uri("/api/v1/datasets/x/versions"), new RegisterDatasetRequest(new DatasetSourceRequest(DatasetSourceKinds.Path, Path: Path.Combine(_root, "..", Path.GetFileName(_server.DataDirectory), "outside.csv"))), Json.RegisterDatasetRequest);
        Assert.Equal(HttpStatusCode.BadRequest, escape.StatusCode);

        var inside = Path.Combine(_root, "inside.csv");
        await File.WriteAllTextAsync(inside, Csv(rows: 20));
        var version = await RegisterAsync("x", new DatasetSourceRequest(DatasetSourceKinds.Path, Path: inside));
        Assert.Equal(20, version.Rows);
        Assert.Equal($"path {inside}", version.Source.Description);
    }

    [Fact]
    public async Task PathSource_WithNoAllowedRoots_IsRefusedSayingWhatToConfigure()
    {
        await using var server = new ControlPlaneFactory();
        using var client = server.CreateClient();
        using var response = await client.PostAsJsonAsync(Uri("/api/v1/datasets/x/versions"), new RegisterDatasetRequest(new DatasetSourceRequest(DatasetSourceKinds.Path, Path: "/etc/passwd")), Json.RegisterDatasetRequest);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("reads no paths", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SqlSource_OnSqlite_SnapshotsTheQueryAndTheConnectionStringIsNeverShown()
    {
        Directory.CreateDirectory(Path.Combine(_root, Secret));
        var database = Path.Combine(_root, Secret, "plant.db");
        await using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={database}"))
        {
            await db.OpenAsync();
            await using var command = db.CreateCommand();
            command.CommandText = "CREATE TABLE readings (temperature REAL, site TEXT, label INTEGER); " +
                string.Concat(Enumerable.Range(0, 30).Select(i => $"INSERT INTO readings VALUES ({20 + (i * 0.5)}, 'site-{i % 3}', {i % 2}); "));
            await command.ExecuteNonQueryAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var connectionString = $"Data Source={database}";
        var connection = await ReadAsync(
            await _client.PostAsJsonAsync(Uri("/api/v1/datasets/connections"), new DatasetConnectionRequest("plant", "sqlite", connectionString), Json.DatasetConnectionRequest),
            Json.DatasetConnectionInfo);
        Assert.Equal("plant.db", connection.Host);
        await ReadAsync(await _client.GetAsync(Uri("/api/v1/datasets/connections")), Json.IReadOnlyListDatasetConnectionInfo);

        var version = await RegisterAsync("readings", new DatasetSourceRequest(DatasetSourceKinds.Sql, Connection: "plant", Query: "SELECT temperature, site, label FROM readings WHERE temperature < 30"));
        Assert.Equal(20, version.Rows);
        Assert.Equal(["temperature:numeric", "site:categorical", "label:numeric"], version.Columns.Select(c => $"{c.Name}:{c.Kind}"));

        using var failing = await _client.PostAsJsonAsync(
            Uri("/api/v1/datasets/readings/versions"),
            new RegisterDatasetRequest(new DatasetSourceRequest(DatasetSourceKinds.Sql, Connection: "plant", Query: "SELECT temperature FROM missing_table")),
            Json.RegisterDatasetRequest);
        var problem = await failing.Content.ReadAsStringAsync();
        _bodies.Add(problem);
        Assert.Equal(HttpStatusCode.BadRequest, failing.StatusCode);
        Assert.Contains("missing_table", problem, StringComparison.Ordinal);
        Assert.Contains("source.query", problem, StringComparison.Ordinal);

        await ReadAsync(await _client.GetAsync(Uri("/api/v1/datasets/readings/versions")), Json.IReadOnlyListDatasetVersionInfo);
        await ReadAsync(await _client.GetAsync(Uri("/api/v1/datasets/catalog")), Json.IReadOnlyListDatasetSummary);
        Assert.All(_bodies, body => Assert.DoesNotContain(Secret, body, StringComparison.Ordinal));
        Assert.NotEmpty(_logs.Lines);
        Assert.All(_logs.Lines, line => Assert.DoesNotContain(Secret, line, StringComparison.Ordinal));
        Assert.DoesNotContain(Secret, await File.ReadAllTextAsync(Path.Combine(_server.DataDirectory, "edgeplatform.db")), StringComparison.Ordinal);
        Assert.Single(await ReadAsync(await _client.GetAsync(Uri("/api/v1/datasets/readings/versions")), Json.IReadOnlyListDatasetVersionInfo));
    }

    [Fact]
    public async Task Register_BadFile_SaysLineAndColumnAndLeavesNothingBehind()
    {
        // Past the rows kinds are inferred from, so the column is numeric when the bad cell comes.
        var csv = Csv(rows: 1500).Replace("\n620,", "\nhot,", StringComparison.Ordinal);
        var upload = await ReadAsync(await _client.PostAsync(Uri("/api/v1/datasets/uploads"), null), Json.DatasetUploadInfo);
        await PatchAsync(upload.Id, Encoding.UTF8.GetBytes(csv), 0, null);

        using var response = await _client.PostAsJsonAsync(Uri("/api/v1/datasets/broken/versions"), new RegisterDatasetRequest(new DatasetSourceRequest(DatasetSourceKinds.Upload, UploadId: upload.Id, FileName: "broken.csv")), Json.RegisterDatasetRequest);
        var problem = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("broken.csv: line 1202, column 'temperature'", problem, StringComparison.Ordinal);
        using var versions = await _client.GetAsync(Uri("/api/v1/datasets/broken/versions"));
        Assert.Equal(HttpStatusCode.NotFound, versions.StatusCode);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_server.DataDirectory, "datasets", "staging")));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_server.DataDirectory, "datasets", "uploads")));
    }

    [Fact]
    public async Task Clean_SameRulesTwice_GivesChildVersionsWithOneDigest()
    {
        var csv = "temperature,site,label\n10,a,0\n,a,1\n30,b,0\n1000,b,1\n30,b,0\n20,,1\n";
        var path = Path.Combine(_root, "raw.csv");
        await File.WriteAllTextAsync(path, csv);
        var parent = await RegisterAsync("raw", new DatasetSourceRequest(DatasetSourceKinds.Path, Path: path));
        var rules = new CleansingRules([new CleansingRule("drop-duplicates"), new CleansingRule("fill-missing", ["temperature"], Strategy: "median"), new CleansingRule("filter-range", ["temperature"], Min: 0, Max: 100), new CleansingRule("fill-missing", ["site"], Strategy: "mode")]);

        var first = await CleanAsync("raw", parent.Version, rules);
        var again = await CleanAsync("raw", parent.Version, rules);

        Assert.Equal(parent.Version, first.ParentVersion);
        Assert.NotEqual(parent.SnapshotDigest, first.SnapshotDigest);
        Assert.Equal(first.SnapshotDigest, again.SnapshotDigest);
        Assert.Equal(3, again.Version);
        Assert.Equal(4, first.Rows);
        Assert.Equal("drop-duplicates", first.Rules!.Rules[0].Op);

        // Median of 10, 30, 1000, 20 is 25; the 1000 row is then filtered out; the missing site takes the mode of what is left (a).
        await using var blob = File.OpenRead(Path.Combine(_server.DataDirectory, "blobs", "sha256", ContentDigest.Hex(first.SnapshotDigest)));
        using var reader = new StreamReader(blob);
        Assert.Equal("temperature,site,label\n10,a,0\n25,a,1\n30,b,0\n20,a,1\n", await reader.ReadToEndAsync());
    }

    [Fact]
    public async Task Clean_UnknownColumn_NamesTheRuleAndAddsNoVersion()
    {
        var path = Path.Combine(_root, "raw.csv");
        await File.WriteAllTextAsync(path, Csv(rows: 10));
        await RegisterAsync("raw", new DatasetSourceRequest(DatasetSourceKinds.Path, Path: path));

        using var response = await _client.PostAsJsonAsync(Uri("/api/v1/datasets/raw/versions/latest/clean"), new CleanDatasetRequest(new CleansingRules([new CleansingRule("drop-columns", ["pressure"])])), Json.CleanDatasetRequest);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("rules[0].columns: no column 'pressure'", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Single(await ReadAsync(await _client.GetAsync(Uri("/api/v1/datasets/raw/versions")), Json.IReadOnlyListDatasetVersionInfo));
    }

    private static string Csv(int rows) =>
        "temperature,site,label\n" + string.Concat(Enumerable.Range(0, rows).Select(i => $"{20 + (i * 0.5)},site-{i % 3},{i % 2}\n"));

    private static Uri Uri(string path) => new(path, UriKind.Relative);

    private async Task<DatasetVersionInfo> RegisterAsync(string name, DatasetSourceRequest source) =>
        await ReadAsync(await _client.PostAsJsonAsync(Uri($"/api/v1/datasets/{name}/versions"), new RegisterDatasetRequest(source), Json.RegisterDatasetRequest), Json.DatasetVersionInfo);

    private async Task<DatasetVersionInfo> CleanAsync(string name, int version, CleansingRules rules) =>
        await ReadAsync(await _client.PostAsJsonAsync(Uri($"/api/v1/datasets/{name}/versions/{version}/clean"), new CleanDatasetRequest(rules), Json.CleanDatasetRequest), Json.DatasetVersionInfo);

    private async Task<DatasetUploadInfo> PatchAsync(string id, ReadOnlyMemory<byte> chunk, long start, long? total)
    {
        return await ReadAsync(await SendChunkAsync(id, chunk, start, total), Json.DatasetUploadInfo);
    }

    private Task<HttpResponseMessage> SendChunkAsync(string id, ReadOnlyMemory<byte> chunk, long start, long? total)
    {
        var content = new ByteArrayContent(chunk.ToArray());
        content.Headers.ContentRange = total is null ? new ContentRangeHeaderValue(start, start + chunk.Length - 1) : new ContentRangeHeaderValue(start, start + chunk.Length - 1, total.Value);
        return _client.PatchAsync(Uri($"/api/v1/datasets/uploads/{id}"), content);
    }

    /// <summary>Reads a success answer, keeping its body for the check that no answer shows a secret.</summary>
    private async Task<T> ReadAsync<T>(HttpResponseMessage response, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            _bodies.Add(body);
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}");
            return System.Text.Json.JsonSerializer.Deserialize(body, type)!;
        }
    }
}
