using System.Net;
using System.Text;
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
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.Agent.Tests.Http;

/// <summary>
/// The v2 client the engine scores a container's model through, against the agent's own v2
/// endpoint (the scorer a model's container runs) on a loopback socket, and against servers that
/// answer badly.
/// </summary>
[Collection(TestModelsGroup.Name)]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the test through IAsyncLifetime.DisposeAsync.")]
public sealed class InferenceProtocolModelTests(TestModels models) : IAsyncLifetime
{
    private const string Token = "container-token-1";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private WebApplication? _server;
    private Uri? _address;

    public async Task InitializeAsync()
    {
        var tokenFile = Path.Combine(models.Directory, $"token-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(tokenFile, Token);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration["InferenceHttp:Port"] = "0";
        builder.Configuration["InferenceHttp:BearerTokenFile"] = tokenFile;
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new InferenceEngine(
            new ModelHost(sp.GetRequiredService<ILogger<ModelHost>>()),
            new InferenceEngineOptions { MaxQueueDelayMs = 1 },
            TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>()));
        builder.Services.AddHostedService(sp => new EngineRunner(sp.GetRequiredService<InferenceEngine>()));
        builder.Services.AddLocalInferenceEndpoint();
        _server = builder.Build();
        _server.MapInferenceProtocolApi();
        await _server.StartAsync();
        _server.Services.GetRequiredService<InferenceEngine>().Control.Activate(models.LoadScalar());
        _address = new Uri(_server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single() + "/");
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.StopAsync();
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public void ScoreBatch_AgainstTheAgentsV2Endpoint_EqualsTheInProcessModel()
    {
        using var remote = Connect(_address!, Token);
        using var local = models.LoadScalar();
        var rows = models.TestRows.Count;
        var features = new float[rows * local.FeatureCount];
        for (var row = 0; row < rows; row++)
        {
            local.Binder.Bind(TestModels.EventJson(models.TestRows[row], null), features.AsSpan(row * local.FeatureCount, local.FeatureCount));
        }

        var expected = new RowPrediction[rows];
        var actual = new RowPrediction[rows];
        local.ScoreBatch(features, expected);
        remote.ScoreBatch(features, actual);

        Assert.Equal(local.Identity.OnnxDigest, remote.Identity.OnnxDigest);
        for (var row = 0; row < rows; row++)
        {
            Assert.Equal(expected[row].Label, actual[row].Label);
            AssertClose(expected[row].Score!.Value, actual[row].Score!.Value);
            AssertClose(expected[row].Probability!.Value, actual[row].Probability!.Value);
        }
    }

    [Fact]
    public async Task Engine_ControlScoredOverV2_DeliversEveryEventWithTheInProcessPrediction()
    {
        using var local = models.LoadScalar();
        var engine = new InferenceEngine(new ModelHost(NullLogger<ModelHost>.Instance), new InferenceEngineOptions { MaxBatchSize = 16, MaxQueueDelayMs = 2 }, TimeProvider.System, NullLoggerFactory.Instance);
        engine.Control.Activate(Connect(_address!, Token));
        using var stop = new CancellationTokenSource();
        var running = engine.RunAsync(stop.Token);
        var sink = new CollectingSink(models.TestRows.Count);
        for (var row = 0; row < models.TestRows.Count; row++)
        {
            Assert.True(engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[row], $"e{row}"), sink)));
        }

        await sink.All.WaitAsync(Patience);
        await stop.CancelAsync();
        await running;
        engine.Control.Dispose();

        Assert.Empty(sink.Failures);
        for (var row = 0; row < models.TestRows.Count; row++)
        {
            var scored = sink.Scored[$"e{row}"];
            var expected = local.Score(TestModels.EventJson(models.TestRows[row], null));
            Assert.Equal(expected.Label, scored.Prediction.Label);
            AssertClose(expected.Score!.Value, scored.Prediction.Score!.Value);
            Assert.Equal(local.Identity.OnnxDigest, scored.Model.OnnxDigest);
        }
    }

    [Fact]
    public void ScoreBatch_WrongToken_ThrowsWithTheServersReason()
    {
        using var remote = Connect(_address!, "not-the-token");

        var ex = Assert.Throws<ModelScoringException>(() => remote.ScoreBatch(new float[3], new RowPrediction[1]));

        Assert.Contains("401", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Bearer", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ScoreBatch_AnswerLacksAnOutput_ThrowsNamingIt()
    {
        using var remote = Connect(new Uri("http://127.0.0.1:9/"), Token, new StubHandler(HttpStatusCode.OK, """{"model_name":"m","model_version":"1","outputs":[]}"""));

        var ex = Assert.Throws<ModelScoringException>(() => remote.ScoreBatch(new float[6], new RowPrediction[2]));

        Assert.Contains("lacks output", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ScoreBatch_AnswerIsNotJson_ThrowsSayingSo()
    {
        using var remote = Connect(new Uri("http://127.0.0.1:9/"), Token, new StubHandler(HttpStatusCode.BadGateway, "<html>proxy error</html>"));

        var ex = Assert.Throws<ModelScoringException>(() => remote.ScoreBatch(new float[3], new RowPrediction[1]));

        Assert.Contains("not JSON", ex.Message, StringComparison.Ordinal);
        Assert.Contains("502", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ScoreBatch_ServerDoesNotAnswerInTime_ThrowsNamingTheTimeout()
    {
        using var remote = Connect(new Uri("http://127.0.0.1:9/"), Token, new StubHandler(HttpStatusCode.OK, "{}", hang: true), TimeSpan.FromMilliseconds(200));

        var ex = Assert.Throws<ModelScoringException>(() => remote.ScoreBatch(new float[3], new RowPrediction[1]));

        Assert.Contains("within 200 ms", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ScoreBatch_NobodyListens_ThrowsSayingItCannotBeReached()
    {
        using var remote = Connect(new Uri($"http://127.0.0.1:{ClosedPort()}/"), Token);

        var ex = Assert.Throws<ModelScoringException>(() => remote.ScoreBatch(new float[3], new RowPrediction[1]));

        Assert.Contains("cannot be reached", ex.Message, StringComparison.Ordinal);
    }

    private InferenceProtocolModel Connect(Uri address, string token, HttpMessageHandler? handler = null, TimeSpan? timeout = null) =>
        InferenceProtocolModel.Connect(
            models.ScalarCard,
            models.ScalarModelPath,
            new InferenceProtocolEndpoint(address, token, timeout ?? Patience),
            NullLogger.Instance,
            TimeProvider.System,
            handler: handler);

    /// <summary>A loopback port that was free a moment ago; nothing of this test listens on it.</summary>
    private static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void AssertClose(float expected, float actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-6f * Math.Max(1f, Math.Abs(expected)), $"expected {expected:R}, got {actual:R}");

    private sealed class EngineRunner(InferenceEngine engine) : BackgroundService
    {
        protected override Task ExecuteAsync(CancellationToken stoppingToken) => engine.RunAsync(stoppingToken);
    }

    /// <summary>A server that answers every request the same, or never (until the request is cancelled).</summary>
    private sealed class StubHandler(HttpStatusCode status, string body, bool hang = false) : HttpMessageHandler
    {
        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (hang)
            {
                cancellationToken.WaitHandle.WaitOne();
                cancellationToken.ThrowIfCancellationRequested();
            }

            return new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(Send(request, cancellationToken));
    }
}
