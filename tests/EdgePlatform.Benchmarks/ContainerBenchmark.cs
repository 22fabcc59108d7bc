using System.Globalization;
using System.Text;
using EdgePlatform.Agent.Docker;
using EdgePlatform.Agent.Docker.Tests;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Tests.Runtime;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Benchmarks;

/// <summary>
/// The engine fed JSON events in-process, scoring the same model in-process (the baseline) and
/// through its scorer container on the Docker engine of the test services, one after the other
/// in one run; events per second and p99 latency per phase and their ratios. The image is built
/// from this machine's agent build, as the container tests build it.
/// </summary>
internal static class ContainerBenchmark
{
    public static async Task<int> RunAsync(HarnessOptions options)
    {
        var directory = Directory.CreateTempSubdirectory("edgeplatform-container-bench-").FullName;
        var engine = new DockerEngineFixture();
        await engine.InitializeAsync();
        try
        {
            var model = BenchModels.Demo(directory);
            Console.Error.WriteLine($"[{model.Label}] engine in-process…");
            var inProcess = await EngineInProcess.RunAsync(model, options.Phase, name: "engine, model in-process");

            Console.Error.WriteLine($"[{model.Label}] starting its scorer container…");
            var registry = new FakeRegistry();
            var card = model.Card with { Version = model.Card.Version + "-bench" };
            var image = ScorerImage.Build(card, model.OnnxPath, registry, "bench/image");
            engine.Images.Add(image.Platforms[0].ConfigDigest);
            var containers = new DockerModelContainers(
                engine.Client,
                registry,
                Options.Create(new DockerOptions { Endpoint = engine.Endpoint.ToString(), HealthCheckIntervalMs = 500, HealthTimeoutSeconds = 120 }),
                _ => ValueTask.FromResult($"{DockerEngineFixture.NamePrefix}-bench"),
                directory,
                TimeProvider.System,
                NullLogger<DockerModelContainers>.Instance,
                DockerEngineFixture.NamePrefix);
            var reference = new ModelReference("bench", card.Name, card.Version, ContentDigest.Compute("bench"u8), 1, string.Empty) { Runtime = ModelRuntimeKinds.Container };
            var container = await containers.StartAsync(new Agent.Core.Ports.InstalledModel(reference, card, model.OnnxPath) { Image = image }, CancellationToken.None);
            var remote = InferenceProtocolModel.Connect(
                card, model.OnnxPath, new InferenceProtocolEndpoint(container.BaseAddress, container.BearerToken, container.ScoringTimeout), NullLogger.Instance, TimeProvider.System, server: container);
            remote.Warm();
            Console.Error.WriteLine($"[{model.Label}] engine through the container…");
            var throughContainer = await EngineInProcess.RunAsync(model, options.Phase, name: "engine, model in its container (v2)", scoring: remote);

            var report = Render(model.Label, inProcess, throughContainer, options);
            Console.WriteLine(report);
            if (options.OutFile is { } outFile)
            {
                await File.WriteAllTextAsync(outFile, report);
            }

            var complete = inProcess.Lost == 0 && throughContainer.Lost == 0 && throughContainer.Received > 0;
            Console.WriteLine(complete ? "every event scored through the container and in-process" : "events were lost");
            return complete ? 0 : 1;
        }
        finally
        {
            await engine.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string Render(string label, PhaseResult inProcess, PhaseResult container, HarnessOptions options)
    {
        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"# Container scoring against in-process ({label} model, {options.Phase.TotalSeconds:F0} s per phase{(options.Smoke ? ", smoke: figures mean nothing" : string.Empty)})");
        report.AppendLine();
        report.AppendLine("| phase | events/s | p50 ms | p99 ms | max ms | CPU µs/event (agent) | note |");
        report.AppendLine("|---|---:|---:|---:|---:|---:|---|");
        foreach (var phase in new[] { inProcess, container })
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"| {phase.Name} | {phase.EventsPerSecond:F0} | {phase.P50Ms:F2} | {phase.P99Ms:F2} | {phase.MaxMs:F1} | {phase.CpuMicrosecondsPerEvent:F1} | {phase.Note} |");
        }

        report.AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture, $"container / in-process: events/s ×{container.EventsPerSecond / inProcess.EventsPerSecond:F3}, p99 ×{container.P99Ms / inProcess.P99Ms:F1}");
        return report.ToString();
    }
}
