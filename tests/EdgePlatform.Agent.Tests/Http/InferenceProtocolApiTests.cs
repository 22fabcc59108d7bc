using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EdgePlatform.Agent.Http;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Agent.Inference.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgePlatform.Agent.Tests.Http;

/// <summary>The v2 endpoint on a real loopback socket, called by a plain HTTP client with hand-written JSON.</summary>
[Collection(TestModelsGroup.Name)]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the test through IAsyncLifetime.DisposeAsync.")]
public sealed class InferenceProtocolApiTests(TestModels models) : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private WebApplication? _app;
    private HttpClient? _client;
    private InferenceEngine? _engine;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration["InferenceHttp:Port"] = "0";
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new InferenceEngine(
            new ModelHost(sp.GetRequiredService<ILogger<ModelHost>>()),
            new InferenceEngineOptions { MaxQueueDelayMs = 1 },
            TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>()));
        builder.Services.AddHostedService(sp => new EngineRunner(sp.GetRequiredService<InferenceEngine>()));
        builder.Services.AddLocalInferenceEndpoint();
        _app = builder.Build();
        _app.MapInferenceProtocolApi();
        await _app.StartAsync();
        _engine = _app.Services.GetRequiredService<InferenceEngine>();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        _client = new HttpClient { BaseAddress = new Uri(address), Timeout = Patience };
    }

    [Fact]
    public async Task Infer_ScalarInputsForTwoRows_ReturnsTheModelsPredictions()
    {
        _engine!.Control.Activate(models.LoadScalar("3.1.0"));
        var rows = models.TestRows.Take(2).ToList();
        var expected = models.PredictScalarWithMlNet(rows);
        var body = string.Create(System.Globalization.CultureInfo.InvariantCulture, $$"""
            {"id":"req-1","inputs":[
              {"name":"{{TestModels.Temperature}}","shape":[2,1],"datatype":"FP32","data":[{{rows[0].Temperature:R}},{{rows[1].Temperature:R}}]},
              {"name":"{{TestModels.Vibration}}","shape":[2,1],"datatype":"FP32","data":[[{{rows[0].Vibration:R}}],[{{rows[1].Vibration:R}}]]},
              {"name":"{{TestModels.Pressure}}","shape":[2],"datatype":"FP64","data":[{{rows[0].Pressure:R}},{{rows[1].Pressure:R}}]}
            ]}
            """);

        using var response = await PostAsync($"/v2/models/{models.ScalarCard.Name}/infer", body);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(text);
        var root = json.RootElement;
        Assert.Equal(models.ScalarCard.Name, root.GetProperty("model_name").GetString());
        Assert.Equal("3.1.0", root.GetProperty("model_version").GetString());
        Assert.Equal("req-1", root.GetProperty("id").GetString());
        var outputs = root.GetProperty("outputs").EnumerateArray().ToDictionary(output => output.GetProperty("datatype").GetString()! + ":" + output.GetProperty("name").GetString());
        var score = outputs.Single(output => output.Key.StartsWith("FP32:Score", StringComparison.Ordinal)).Value;
        Assert.Equal([2], score.GetProperty("shape").EnumerateArray().Select(dimension => dimension.GetInt64()));
        var scores = score.GetProperty("data").EnumerateArray().Select(value => value.GetSingle()).ToList();
        Assert.Equal(expected[0].Score, scores[0], 1e-5f);
        Assert.Equal(expected[1].Score, scores[1], 1e-5f);
        var labels = outputs.Single(output => output.Key.StartsWith("BOOL:", StringComparison.Ordinal)).Value.GetProperty("data").EnumerateArray().Select(value => value.GetBoolean());
        Assert.Equal(expected.Select(prediction => prediction.PredictedLabel), labels);
    }

    [Fact]
    public async Task Infer_MulticlassModel_ReturnsClassNamesAndEachRowsProbabilities()
    {
        var classifier = new SoftmaxClassifierOnnx(new float[,] { { 2f, -1f, 0f }, { -1f, 2f, 0.5f } }, [0f, 0f, -0.5f]);
        var path = Path.Combine(models.Directory, "multiclass-v2.onnx");
        await File.WriteAllBytesAsync(path, classifier.ToOnnx());
        string[] classes = ["low", "mid", "high"];
        var card = new Contracts.ModelCard(
            "machine-state",
            "1",
            Contracts.ModelTasks.MulticlassClassification,
            [new Contracts.ModelInput("features", "float32", [-1, 2], "a, b")],
            [new Contracts.ModelOutput("label", "int64", [-1, 1], "label"), new Contracts.ModelOutput("probabilities", "float32", [-1, 3], "probabilities")],
            new Dictionary<string, double>(),
            new Contracts.ModelLineage("imported", "d", string.Empty, 0, "softmax", new Dictionary<string, string>(), "test"),
            [],
            DateTimeOffset.UnixEpoch)
        {
            Classes = classes,
        };
        _engine!.Control.Activate(LoadedModel.Load(card, path, new OnnxModelSettings()));
        float[][] rows = [[2f, -1f], [-1f, 2f]];

        using var response = await PostAsync("/v2/models/machine-state/infer", """
            {"inputs":[{"name":"features","shape":[2,2],"datatype":"FP32","data":[2,-1,-1,2]}]}
            """);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var outputs = json.RootElement.GetProperty("outputs").EnumerateArray().ToDictionary(output => output.GetProperty("name").GetString()!);
        Assert.Equal("BYTES", outputs["label"].GetProperty("datatype").GetString());
        Assert.Equal(["low", "mid"], outputs["label"].GetProperty("data").EnumerateArray().Select(value => value.GetString()));
        Assert.Equal([2L, 3L], outputs["probabilities"].GetProperty("shape").EnumerateArray().Select(dimension => dimension.GetInt64()));
        var probabilities = outputs["probabilities"].GetProperty("data").EnumerateArray().Select(value => value.GetDouble()).ToList();
        var expected = rows.SelectMany(row => classifier.Predict(row)).ToList();
        Assert.Equal(expected.Count, probabilities.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.True(Math.Abs(expected[i] - probabilities[i]) <= 1e-6 + (1e-5 * Math.Abs(expected[i])), $"probability {i}: expected {expected[i]}, got {probabilities[i]}");
        }
    }

    [Fact]
    public async Task Infer_MissingField_Returns400NamingTheField()
    {
        _engine!.Control.Activate(models.LoadScalar());
        var body = $$"""
            {"inputs":[
              {"name":"{{TestModels.Temperature}}","shape":[1,1],"datatype":"FP32","data":[61.5]},
              {"name":"{{TestModels.Vibration}}","shape":[1,1],"datatype":"FP32","data":[2.5]}
            ]}
            """;

        using var response = await PostAsync($"/v2/models/{models.ScalarCard.Name}/infer", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal($"field '{TestModels.Pressure}' is missing", await ErrorOf(response));
    }

    [Fact]
    public async Task Infer_UnknownInputName_Returns400ListingTheModelsInputs()
    {
        _engine!.Control.Activate(models.LoadScalar());
        const string Body = """{"inputs":[{"name":"humidity","shape":[1],"datatype":"FP32","data":[40]}]}""";

        using var response = await PostAsync($"/v2/models/{models.ScalarCard.Name}/infer", Body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith($"input 'humidity' is neither an input of model '{models.ScalarCard.Name}'", await ErrorOf(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Infer_OtherModelName_Returns404NamingTheActiveModel()
    {
        _engine!.Control.Activate(models.LoadScalar());

        using var response = await PostAsync("/v2/models/other/infer", """{"inputs":[]}""");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal($"model 'other' is not served here; the active model is '{models.ScalarCard.Name}'", await ErrorOf(response));
    }

    [Fact]
    public async Task Ready_BeforeAndAfterAModelIsActive_Returns503Then200()
    {
        using var before = await _client!.GetAsync(new Uri("/v2/health/ready", UriKind.Relative));
        _engine!.Control.Activate(models.LoadScalar());
        using var after = await _client.GetAsync(new Uri("/v2/health/ready", UriKind.Relative));
        using var modelReady = await _client.GetAsync(new Uri($"/v2/models/{models.ScalarCard.Name}/ready", UriKind.Relative));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, before.StatusCode);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(HttpStatusCode.OK, modelReady.StatusCode);
    }

    [Fact]
    public async Task Metadata_ActiveModel_ListsItsInputsWithDatatypeAndShape()
    {
        _engine!.Control.Activate(models.LoadScalar("2.0.0"));

        var text = await _client!.GetStringAsync(new Uri($"/v2/models/{models.ScalarCard.Name}", UriKind.Relative));

        using var json = JsonDocument.Parse(text);
        Assert.Equal(["2.0.0"], json.RootElement.GetProperty("versions").EnumerateArray().Select(version => version.GetString()));
        Assert.Equal("onnxruntime_onnx", json.RootElement.GetProperty("platform").GetString());
        var temperature = json.RootElement.GetProperty("inputs").EnumerateArray().Single(input => input.GetProperty("name").GetString() == TestModels.Temperature);
        Assert.Equal("FP32", temperature.GetProperty("datatype").GetString());
        Assert.Equal([-1L, 1L], temperature.GetProperty("shape").EnumerateArray().Select(dimension => dimension.GetInt64()));
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private async Task<HttpResponseMessage> PostAsync(string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return await _client!.PostAsync(new Uri(path, UriKind.Relative), content);
    }

    private static async Task<string?> ErrorOf(HttpResponseMessage response)
    {
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("error").GetString();
    }

    private sealed class EngineRunner(InferenceEngine engine) : BackgroundService
    {
        protected override Task ExecuteAsync(CancellationToken stoppingToken) => engine.RunAsync(stoppingToken);
    }
}
