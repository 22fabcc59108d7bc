using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EdgePlatform.Agent.Http;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Tests;
using EdgePlatform.Agent.Scorer;
using EdgePlatform.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Tests.Scorer;

/// <summary>The scorer mode on a real loopback socket over a model directory as the image holds it.</summary>
[Collection(TestModelsGroup.Name)]
public sealed class ScorerHostTests(TestModels models)
{
    private const string Token = "scorer-token-0123456789abcdef";

    [Fact]
    public async Task Infer_ModelDirectory_PredictionsEqualLoadedModelsOnTheSameRows()
    {
        var directory = WriteModelDirectory();
        var rows = models.TestRows.Take(5).ToList();
        using var loaded = LoadedModel.Load(models.ScalarCard, models.ScalarModelPath, new OnnxModelSettings());
        var expected = rows.Select(row => loaded.Score(TestModels.EventJson(row, id: null))).ToList();
        await using var app = await StartAsync(new() { ["Scorer:ModelDirectory"] = directory });
        using var client = ClientOf(app, Token);

        using var response = await client.PostAsync(
            new Uri($"/v2/models/{models.ScalarCard.Name}/infer", UriKind.Relative),
            new StringContent(InferBody(rows), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var outputs = json.RootElement.GetProperty("outputs").EnumerateArray().ToList();
        var scores = outputs.Single(output => output.GetProperty("datatype").GetString() == "FP32" && output.GetProperty("name").GetString()!.StartsWith("Score", StringComparison.Ordinal))
            .GetProperty("data").EnumerateArray().Select(value => value.GetSingle()).ToList();
        var labels = outputs.Single(output => output.GetProperty("datatype").GetString() == "BOOL").GetProperty("data").EnumerateArray().Select(value => value.GetBoolean());
        Assert.Equal(expected.Count, scores.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var want = expected[i].Score!.Value;
            Assert.True(Math.Abs(want - scores[i]) <= 1e-6f + (1e-5f * Math.Abs(want)), $"row {i}: expected {want}, got {scores[i]}");
        }

        Assert.Equal(expected.Select(result => result.Label!.Value), labels);
    }

    [Fact]
    public async Task Infer_WithoutTheToken_Returns401()
    {
        await using var app = await StartAsync(new() { ["Scorer:ModelDirectory"] = WriteModelDirectory() });
        using var anonymous = ClientOf(app, token: null);

        using var response = await anonymous.PostAsync(
            new Uri($"/v2/models/{models.ScalarCard.Name}/infer", UriKind.Relative),
            new StringContent(InferBody(models.TestRows.Take(1)), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task RunAsync_HealthWithTheScorersConfiguration_ExitsZero()
    {
        await using var app = await StartAsync(new() { ["Scorer:ModelDirectory"] = WriteModelDirectory() });

        var exit = await ScorerHost.RunAsync([ScorerHost.HealthVerb, $"--InferenceHttp:Port={PortOf(app)}", $"--InferenceHttp:BearerTokenFile={TokenFile()}"], CancellationToken.None);

        Assert.Equal(0, exit);
    }

    [Fact]
    public async Task CheckAsync_WrongToken_ExitsOneSaying401()
    {
        await using var app = await StartAsync(new() { ["Scorer:ModelDirectory"] = WriteModelDirectory() });
        var wrongToken = Path.Combine(models.Directory, $"wrong-{Guid.NewGuid():N}.token");
        await File.WriteAllTextAsync(wrongToken, "not-the-scorer-token-0123456789");
        using var error = new StringWriter();

        var exit = await ScorerHealth.CheckAsync(new InferenceHttpOptions { Port = PortOf(app), BearerTokenFile = wrongToken }, error, CancellationToken.None);

        Assert.Equal(1, exit);
        Assert.Contains("401", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckAsync_NothingListening_ExitsOne()
    {
        int port;
        await using (var app = await StartAsync(new() { ["Scorer:ModelDirectory"] = WriteModelDirectory() }))
        {
            port = PortOf(app);
            await app.StopAsync();
        }

        using var error = new StringWriter();

        var exit = await ScorerHealth.CheckAsync(new InferenceHttpOptions { Port = port, BearerTokenFile = TokenFile() }, error, CancellationToken.None);

        Assert.Equal(1, exit);
        Assert.Contains("did not answer", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_MissingModelDirectory_RefusesNamingTheSetting()
    {
        var missing = Path.Combine(models.Directory, "no-such-model");

        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new() { ["Scorer:ModelDirectory"] = missing }));

        Assert.Contains($"Scorer:ModelDirectory '{missing}' does not exist", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_DirectoryWithoutCard_RefusesNamingTheFile()
    {
        var directory = WriteModelDirectory();
        File.Delete(Path.Combine(directory, ScorerOptions.CardFileName));

        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new() { ["Scorer:ModelDirectory"] = directory }));

        Assert.Contains($"Scorer:ModelDirectory '{directory}' holds no card.json", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_CardNotJson_RefusesNamingTheCard()
    {
        var directory = WriteModelDirectory();
        await File.WriteAllTextAsync(Path.Combine(directory, ScorerOptions.CardFileName), "{ not json");

        var refused = await Assert.ThrowsAsync<ScorerModelException>(() => StartAsync(new() { ["Scorer:ModelDirectory"] = directory }));

        Assert.StartsWith($"{Path.Combine(directory, ScorerOptions.CardFileName)}: the model card is not valid JSON", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_CardOfAnotherGraph_RefusesNamingTheModel()
    {
        var directory = WriteModelDirectory(models.VectorCard);

        var refused = await Assert.ThrowsAsync<ScorerModelException>(() => StartAsync(new() { ["Scorer:ModelDirectory"] = directory }));

        Assert.StartsWith($"{Path.Combine(directory, ScorerOptions.ModelFileName)} with its card ({models.VectorCard.Name}:{models.VectorCard.Version}) does not load", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_BeyondLoopbackWithoutTokenFile_RefusesNamingTheSetting()
    {
        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(
            new() { ["Scorer:ModelDirectory"] = WriteModelDirectory(), ["InferenceHttp:BindAddress"] = "0.0.0.0" },
            withToken: false));

        Assert.Contains("InferenceHttp:BearerTokenFile", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_MissingModelDirectory_ExitsOne()
    {
        var exit = await ScorerHost.RunAsync(
            [$"--Scorer:ModelDirectory={Path.Combine(models.Directory, "no-such-model")}", "--InferenceHttp:Port=0"],
            CancellationToken.None);

        Assert.Equal(1, exit);
    }

    /// <summary>The scorer as the image runs it, on a free loopback port with a token; options that fail validation throw as they stop the process.</summary>
    private async Task<WebApplication> StartAsync(Dictionary<string, string?> settings, bool withToken = true)
    {
        var app = ScorerHost.Build([], builder =>
        {
            builder.Logging.ClearProviders();
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["InferenceHttp:Port"] = "0",
                ["InferenceHttp:BearerTokenFile"] = withToken ? TokenFile() : null,
                ["Inference:MaxQueueDelayMs"] = "1",
            });
            builder.Configuration.AddInMemoryCollection(settings);
        });
        try
        {
            await app.StartAsync();
            return app;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    private string WriteModelDirectory(ModelCard? card = null)
    {
        var directory = Directory.CreateDirectory(Path.Combine(models.Directory, $"scorer-{Guid.NewGuid():N}")).FullName;
        File.Copy(models.ScalarModelPath, Path.Combine(directory, ScorerOptions.ModelFileName));
        File.WriteAllBytes(Path.Combine(directory, ScorerOptions.CardFileName), JsonSerializer.SerializeToUtf8Bytes(card ?? models.ScalarCard, ContractsJsonContext.Default.ModelCard));
        return directory;
    }

    private string TokenFile()
    {
        var file = Path.Combine(models.Directory, "scorer.token");
        if (!File.Exists(file))
        {
            File.WriteAllText(file, Token + "\n");
        }

        return file;
    }

    private static string InferBody(IEnumerable<SensorRow> rows)
    {
        var list = rows.ToList();
        string Column(Func<SensorRow, float> value) => string.Join(",", list.Select(row => value(row).ToString("R", CultureInfo.InvariantCulture)));
        return $$"""
            {"inputs":[
              {"name":"{{TestModels.Temperature}}","shape":[{{list.Count}},1],"datatype":"FP32","data":[{{Column(row => row.Temperature)}}]},
              {"name":"{{TestModels.Vibration}}","shape":[{{list.Count}},1],"datatype":"FP32","data":[{{Column(row => row.Vibration)}}]},
              {"name":"{{TestModels.Pressure}}","shape":[{{list.Count}},1],"datatype":"FP32","data":[{{Column(row => row.Pressure)}}]}
            ]}
            """;
    }

    private static int PortOf(WebApplication app) =>
        new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single()).Port;

    private static HttpClient ClientOf(WebApplication app, string? token)
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{PortOf(app)}"), Timeout = TimeSpan.FromSeconds(20) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }
}
