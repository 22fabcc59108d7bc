using System.Collections.Concurrent;
using Docker.DotNet.Models;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Docker;
using EdgePlatform.Agent.Docker.Tests;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Agent.Inference.Tests;
using EdgePlatform.Agent.Runtime;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Tests.Runtime;

/// <summary>
/// The agent's runtime with models in real scorer containers on a real Docker engine: the same
/// engine, arms and telemetry as in-process, predictions equal to the in-process model's, a
/// replacement under load that loses no event, and a rollback.
/// </summary>
[Trait("Category", "Integration")]
[Collection(DockerEngineGroup.Name)]
public sealed class ContainerModelRuntimeTests(DockerEngineFixture docker, TestModels models) : IClassFixture<TestModels>, IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    private readonly string _deviceId = $"{DockerEngineFixture.NamePrefix}-{Guid.NewGuid():N}";
    private readonly string _tokens = Directory.CreateTempSubdirectory("edgeplatform-dockertests-").FullName;
    private readonly FakeRegistry _registry = new();

    [Fact]
    public async Task ContainerModel_ScoredReplacedUnderLoadAndRolledBack_EveryEventScoredAsInProcess()
    {
        var observer = new VersionCounts();
        var engine = new InferenceEngine(
            new ModelHost(NullLogger<ModelHost>.Instance),
            new InferenceEngineOptions { MaxBatchSize = 32, MaxQueueDelayMs = 2, QueueCapacity = 100_000 },
            TimeProvider.System,
            NullLoggerFactory.Instance,
            observer);
        var containers = new DockerModelContainers(
            docker.Client,
            _registry,
            Options.Create(new DockerOptions { Endpoint = docker.Endpoint.ToString(), HealthCheckIntervalMs = 500, HealthTimeoutSeconds = 90, StopTimeoutSeconds = 2 }),
            _ => ValueTask.FromResult(_deviceId),
            _tokens,
            TimeProvider.System,
            NullLogger<DockerModelContainers>.Instance,
            DockerEngineFixture.NamePrefix);
        var runtime = new EngineModelRuntime(engine, Options.Create(new OnnxModelSettings()), NullLoggerFactory.Instance, TimeProvider.System, containers);
        using var stop = new CancellationTokenSource();
        var running = engine.RunAsync(stop.Token);
        using var local = models.LoadScalar();
        var first = Release("1.0.0");
        var second = Release("2.0.0");

        runtime.Activate(await runtime.StageAsync(first, CancellationToken.None));
        var scored = await ScoreAsync(engine, 64, "a");

        for (var i = 0; i < 64; i++)
        {
            var expected = local.Score(TestModels.EventJson(models.TestRows[i], null));
            var actual = scored[$"a{i}"];
            Assert.Equal("1.0.0", actual.Model.Version);
            Assert.Equal(expected.Label, actual.Prediction.Label);
            Assert.True(Math.Abs(expected.Score!.Value - actual.Prediction.Score!.Value) <= 1e-6f * Math.Max(1, Math.Abs(expected.Score.Value)));
        }

        // Replace under load: events keep coming while the new container starts and takes over.
        var load = ScoreAsync(engine, 3000, "b", paced: true);
        runtime.Activate(await runtime.StageAsync(second, CancellationToken.None));
        var duringSwap = await load;
        var after = await ScoreAsync(engine, 32, "c");
        Assert.Equal(3000, duringSwap.Count);
        Assert.All(after.Values, e => Assert.Equal("2.0.0", e.Model.Version));
        await WaitForContainersAsync(["2.0.0"]);

        // Roll back: the previous version's container again, the newer one removed.
        runtime.Activate(await runtime.StageAsync(first, CancellationToken.None));
        var rolledBack = await ScoreAsync(engine, 32, "d");
        Assert.All(rolledBack.Values, e => Assert.Equal("1.0.0", e.Model.Version));
        await WaitForContainersAsync(["1.0.0"]);

        engine.Control.Dispose();
        await stop.CancelAsync();
        await running;
        await WaitForContainersAsync([]);
        Assert.True(observer.Rows["1.0.0"] >= 64 + 32);
        Assert.True(observer.Rows["2.0.0"] >= 32);
        Assert.Equal(0, observer.Failed);
    }

    public void Dispose() => Directory.Delete(_tokens, recursive: true);

    private InstalledModel Release(string version)
    {
        var card = models.ScalarCard with { Version = version };
        var reference = new ModelReference("models/pump", card.Name, version, ContentDigest.Compute(System.Text.Encoding.UTF8.GetBytes(version)), 100, string.Empty)
        {
            Runtime = ModelRuntimeKinds.Container,
        };
        var image = ScorerImage.Build(card, models.ScalarModelPath, _registry, "models/pump/image");
        docker.Images.Add(image.Platforms[0].ConfigDigest);
        return new InstalledModel(reference, card, models.ScalarModelPath) { Image = image };
    }

    /// <summary>Scores <paramref name="count"/> test events and waits for every outcome; any failure fails the test.</summary>
    private async Task<ConcurrentDictionary<string, ScoredEvent>> ScoreAsync(InferenceEngine engine, int count, string prefix, bool paced = false)
    {
        var sink = new CollectingSink(count);
        for (var i = 0; i < count; i++)
        {
            Assert.True(engine.TryEnqueue(InferenceEvent.FromJson(TestModels.EventJson(models.TestRows[i % models.TestRows.Count], $"{prefix}{i}"), sink)));
            if (paced && i % 50 == 49)
            {
                // A steady stream rather than one burst, so the swap happens in the middle of it.
                await Task.Yield();
                await Task.Delay(TimeSpan.FromMilliseconds(20));
            }
        }

        await sink.All.WaitAsync(Patience);
        Assert.Empty(sink.Failures);
        return sink.Scored;
    }

    private async Task WaitForContainersAsync(string[] versions)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var listed = await docker.Client.Containers.ListContainersAsync(new ContainersListParameters
            {
                All = true,
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{ContainerLabels.Device}={_deviceId}"] = true } },
            });
            var running = listed.Select(container => container.Labels[ContainerLabels.Version]).Order(StringComparer.Ordinal).ToArray();
            if (running.SequenceEqual(versions) || DateTime.UtcNow > deadline)
            {
                Assert.Equal(versions, running);
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }
    }

    private sealed class VersionCounts : IScoringObserver
    {
        public ConcurrentDictionary<string, int> Rows { get; } = new(StringComparer.Ordinal);

        public int Failed;

        public void OnScored(in ScoredRun run)
        {
            var rows = run.Predictions.Length;
            Rows.AddOrUpdate(run.Model.Identity.Version, rows, (_, n) => n + rows);
        }

        public void OnFailed(ScoringModel model, string arm, EventOutcome outcome, int events) => Interlocked.Add(ref Failed, events);

        public void OnCompared(ScoringModel model, string arm, int compared, int agreements)
        {
        }
    }
}
