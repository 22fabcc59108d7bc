using System.Net;
using System.Net.Http.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.ControlPlane.Host.Tests.Hosting;

/// <summary>
/// A selector that once overflowed the stack on every rollout tick, written straight into the
/// database as an older server (or a hand edit) could have left it: the server starts, serves,
/// and pauses that rollout with the reason.
/// </summary>
public sealed class StoredSelectorTests : IDisposable
{
    private static readonly Dictionary<string, string> FastTicks = new() { ["Rollouts:TickSeconds"] = "1" };
    private readonly string _directory = Directory.CreateTempSubdirectory("edgeplatform-selector-tests-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData("nested")]
    [InlineData("flat")]
    public async Task Restart_WithAStoredSelectorThatCannotBeEvaluated_ServesAndPausesThatRollout(string shape)
    {
        string id;
        await using (var first = ControlPlaneFactory.Over(_directory, FastTicks))
        {
            await first.Services.GetRequiredService<IModelStore>().AddModelAsync(
                new ModelRecord("models/stored-selector", "stored-selector", "1", "sha256:" + new string('1', 64), 10, "sha256:" + new string('2', 64), 20, "c2ln", new Dictionary<string, double>(), DateTimeOffset.UtcNow),
                CancellationToken.None);
            using var client = first.CreateClient();
            using var created = await client.PostAsJsonAsync(
                "/api/v1/rollouts",
                new CreateRolloutRequest("stored-selector:1", "site=nowhere", 0, [new RolloutStage(100, null, 600)], null),
                ContractsJsonContext.Default.CreateRolloutRequest);
            created.EnsureSuccessStatusCode();
            id = (await created.Content.ReadFromJsonAsync(ContractsJsonContext.Default.RolloutInfo))!.Id;
        }

        var selector = shape == "nested"
            ? new string('(', 30_000) + "site=berlin" + new string(')', 30_000)
            : string.Join(',', Enumerable.Repeat("a=b", 200_000));
        await WriteSelectorAsync(id, selector);

        await using var second = ControlPlaneFactory.Over(_directory, FastTicks);
        using var again = second.CreateClient();
        RolloutInfo? rollout = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(30); DateTime.UtcNow < deadline && rollout?.State != RolloutStates.Paused; await Task.Delay(100))
        {
            rollout = (await again.GetFromJsonAsync($"/api/v1/rollouts/{id}", ContractsJsonContext.Default.RolloutDetail))!.Rollout;
        }

        Assert.Equal(RolloutStates.Paused, rollout!.State);
        Assert.Contains("selector", rollout.Reason, StringComparison.Ordinal);
        using var health = await again.GetAsync(new Uri("/healthz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    private async Task WriteSelectorAsync(string id, string selector)
    {
        SqliteConnection.ClearAllPools();
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(_directory, "edgeplatform.db")}");
        await connection.OpenAsync();
        await using var update = connection.CreateCommand();
        update.CommandText = "UPDATE rollouts SET document = json_set(document, '$.selector', $selector) WHERE id = $id";
        update.Parameters.AddWithValue("$selector", selector);
        update.Parameters.AddWithValue("$id", id);
        Assert.Equal(1, await update.ExecuteNonQueryAsync());
        await using var check = connection.CreateCommand();
        check.CommandText = "SELECT length(json_extract(document, '$.selector')) FROM rollouts WHERE id = $id";
        check.Parameters.AddWithValue("$id", id);
        Assert.Equal((long)selector.Length, (long)(await check.ExecuteScalarAsync())!);
    }
}
