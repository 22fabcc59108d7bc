using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Tests.Datasets;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgePlatform.ControlPlane.Host.Tests.Containers;

/// <summary>
/// A trained release containerized onto the suite's scorer base image, pushed to the distribution
/// registry, pulled by a real dockerd and run as a plain host would run it: <c>docker run -p</c>
/// with a token file mounted.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ScorerContainerTests
{
    private const string Token = "container-token-0123456789abcdef";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task DockerRun_ContainerizedRelease_ServesTheReleasesPredictionsOnlyWithTheToken()
    {
        var docker = TestServices.Require("EDGEPLATFORM_TEST_DOCKER", "dockerd");
        var registry = new Uri(TestServices.Require("EDGEPLATFORM_TEST_REGISTRY", "the distribution registry"));
        var baseImage = TestServices.Require("EDGEPLATFORM_TEST_SCORER_BASE", "the scorer base image (deployment/scripts/build-scorer-image.sh)");
        await using var server = ControlPlaneFactory.With(new Dictionary<string, string>
        {
            ["Containerize:BaseImageDirectory"] = baseImage,
            ["Containerize:RegistryUrl"] = registry.ToString(),
        });
        using var client = server.CreateClient();
        var run = await TrainingRuns.RunAsync(client, new TrainingRequest(null, null, null, null));
        Assert.Equal(TrainingRunStatuses.Succeeded, run.Status);
        using var containerize = await client.PostAsync(new Uri($"/api/v1/models/{run.ModelName}/versions/{run.ModelVersion}/image", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, containerize.StatusCode);
        var image = (await containerize.Content.ReadFromJsonAsync(ContractsJsonContext.Default.ModelImageInfo))!;
        var model = (await client.GetFromJsonAsync($"/api/v1/models/{run.ModelName}:{run.ModelVersion}", ContractsJsonContext.Default.ModelInfo))!;
        var onnx = await client.GetByteArrayAsync(new Uri($"/v2/{model.Repository}/blobs/{model.OnnxDigest}", UriKind.Relative));
        var reference = $"{registry.Authority}/{image.Repository}@{image.IndexDigest}";
        var name = $"edgeplatform-scorer-test-{Guid.NewGuid():N}";
        var secrets = Directory.CreateTempSubdirectory("edgeplatform-scorer-secrets-");
        try
        {
            // The scorer runs as 65532: the token must be readable by others, as a mounted secret would be.
            File.SetUnixFileMode(secrets.FullName, (UnixFileMode)0x1ED);
            var tokenFile = Path.Combine(secrets.FullName, "token");
            await File.WriteAllTextAsync(tokenFile, Token);
            File.SetUnixFileMode(tokenFile, (UnixFileMode)0x1A4);
            await DockerAsync(docker, false, "pull", reference);
            var port = FreePort();
            await DockerAsync(docker, false, "run", "-d", "--name", name, "-p", $"127.0.0.1:{port}:8080",
                "-v", $"{tokenFile}:/run/secrets/scorer-token:ro", "-e", "InferenceHttp__BearerTokenFile=/run/secrets/scorer-token", reference);
            using var scorer = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
            await WaitUntilReadyAsync(scorer, docker, name);

            var card = await ReadCardAsync(client, model);
            var rows = Rows(card, count: 8);
            using var anonymous = await scorer.PostAsync(new Uri($"/v2/models/{card.Name}/infer", UriKind.Relative), new StringContent(InferBody(card, rows), Encoding.UTF8, "application/json"));
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/v2/models/{card.Name}/infer", UriKind.Relative))
            {
                Content = new StringContent(InferBody(card, rows), Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            using var answered = await scorer.SendAsync(request);

            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
            var score = card.Outputs.Single(output => output.Field == PredictionFields.Score);
            using var json = JsonDocument.Parse(await answered.Content.ReadAsStringAsync());
            var served = json.RootElement.GetProperty("outputs").EnumerateArray().Single(output => output.GetProperty("name").GetString() == score.Name)
                .GetProperty("data").EnumerateArray().Select(value => value.GetSingle()).ToList();
            var expected = ScoreInProcess(onnx, card, rows, score.Name);
            Assert.Equal(expected.Count, served.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.True(Math.Abs(expected[i] - served[i]) <= 1e-5f + (1e-5f * Math.Abs(expected[i])), $"row {i}: in-process {expected[i]}, container {served[i]}");
            }
        }
        finally
        {
            await DockerAsync(docker, true, "rm", "-f", name);
            await DockerAsync(docker, true, "rmi", reference);
            secrets.Delete(recursive: true);
        }
    }

    private static async Task<ModelCard> ReadCardAsync(HttpClient client, ModelInfo model)
    {
        var manifest = OciManifest.ReadModelPackage(await client.GetByteArrayAsync(new Uri($"/v2/{model.Repository}/manifests/{model.ManifestDigest}", UriKind.Relative)), out var problem)
            ?? throw new InvalidOperationException(problem);
        return ModelCard.Read(await client.GetByteArrayAsync(new Uri($"/v2/{model.Repository}/blobs/{manifest.Config.Digest}", UriKind.Relative)), out problem)
            ?? throw new InvalidOperationException(problem);
    }

    /// <summary>Values for every field of every input, row by row, in the card's field order; spread around each field's training mean.</summary>
    private static List<float[]> Rows(ModelCard card, int count)
    {
        var random = new Random(17);
        var baselines = card.Baseline.ToDictionary(b => b.Name, StringComparer.Ordinal);
        var fields = card.Inputs.SelectMany(input => Fields(input)).ToList();
        return [.. Enumerable.Range(0, count).Select(_ => fields.Select(field => baselines.TryGetValue(field, out var b)
            ? (float)(b.Mean + (b.StdDev * ((random.NextDouble() * 2) - 1)))
            : (float)random.NextDouble()).ToArray())];
    }

    private static string[] Fields(ModelInput input) => input.Field.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    private static string InferBody(ModelCard card, List<float[]> rows)
    {
        var inputs = new List<string>();
        var offset = 0;
        foreach (var input in card.Inputs)
        {
            var width = Fields(input).Length;
            var start = offset;
            var data = string.Join(",", rows.SelectMany(row => row.Skip(start).Take(width)).Select(value => value.ToString("R", CultureInfo.InvariantCulture)));
            inputs.Add($$"""{"name":"{{input.Name}}","shape":[{{rows.Count}},{{width}}],"datatype":"FP32","data":[{{data}}]}""");
            offset += width;
        }

        return $$"""{"inputs":[{{string.Join(",", inputs)}}]}""";
    }

    /// <summary>The same rows through ONNX Runtime in this process, the reference the container must match.</summary>
    private static List<float> ScoreInProcess(byte[] onnx, ModelCard card, List<float[]> rows, string output)
    {
        using var session = new InferenceSession(onnx);
        var inputs = new List<NamedOnnxValue>();
        var offset = 0;
        foreach (var input in card.Inputs)
        {
            var width = Fields(input).Length;
            var tensor = new DenseTensor<float>([rows.Count, width]);
            for (var row = 0; row < rows.Count; row++)
            {
                for (var j = 0; j < width; j++)
                {
                    tensor[row, j] = rows[row][offset + j];
                }
            }

            inputs.Add(NamedOnnxValue.CreateFromTensor(input.Name, tensor));
            offset += width;
        }

        using var results = session.Run(inputs, [output]);
        return [.. results.Single().AsEnumerable<float>()];
    }

    private static async Task WaitUntilReadyAsync(HttpClient scorer, string docker, string container)
    {
        var deadline = DateTimeOffset.UtcNow + Patience;
        while (true)
        {
            try
            {
                using var ready = new HttpRequestMessage(HttpMethod.Get, new Uri("/v2/health/ready", UriKind.Relative));
                ready.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
                using var response = await scorer.SendAsync(ready);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            if (DateTimeOffset.UtcNow > deadline)
            {
                throw new TimeoutException($"the scorer container was not ready within {Patience.TotalSeconds} s; its log:\n{await DockerAsync(docker, true, "logs", container)}");
            }

            await Task.Delay(200);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<string> DockerAsync(string docker, bool allowFailure, params string[] arguments)
    {
        var start = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["DOCKER_HOST"] = docker;
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Patience);
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0 && !allowFailure)
        {
            throw new InvalidOperationException($"docker {string.Join(' ', arguments)} exited {process.ExitCode}: {await error}");
        }

        return await output + await error;
    }
}
