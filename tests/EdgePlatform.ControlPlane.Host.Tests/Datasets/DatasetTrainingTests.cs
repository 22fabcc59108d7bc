using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.ControlPlane.Host.Tests.Datasets;

public sealed class DatasetTrainingTests
{
    [Fact]
    public async Task Train_OnADatasetVersion_RecordsTheVersionAndItsSnapshotDigestInLineage()
    {
        using var root = new TempDirectory();
        var csv = Path.Combine(root.Path, "sensors.csv");
        await using (var builtIn = typeof(EdgePlatform.Training.ModelTrainer).Assembly.GetManifestResourceStream("EdgePlatform.Training.Datasets.sensor-anomaly.csv")!)
        await using (var file = File.Create(csv))
        {
            await builtIn.CopyToAsync(file);
        }

        await using var server = ControlPlaneFactory.With(new Dictionary<string, string> { ["Datasets:AllowedPaths:0"] = root.Path });
        using var client = server.CreateClient();
        using var registered = await client.PostAsJsonAsync(
            new Uri("/api/v1/datasets/pumps/versions", UriKind.Relative),
            new RegisterDatasetRequest(new DatasetSourceRequest(DatasetSourceKinds.Path, Path: csv), Label: "anomaly"),
            ContractsJsonContext.Default.RegisterDatasetRequest);
        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
        var version = (await registered.Content.ReadFromJsonAsync(ContractsJsonContext.Default.DatasetVersionInfo))!;

        var run = await TrainingRuns.RunAsync(client, new TrainingRequest("pumps@1", null, "logistic-regression", null));
        Assert.Equal("pumps@1", run.Dataset);
        Assert.Equal("pumps", run.ModelName);
        Assert.True(run.Status == TrainingRunStatuses.Succeeded, $"training run {run.Id} {run.Status}: {run.Error}");
        var artifacts = server.Services.GetRequiredService<IArtifactStore>();
        var manifest = JsonSerializer.Deserialize(await ReadBlobAsync(artifacts, run.ManifestDigest!), ContractsJsonContext.Default.OciManifest)!;
        var card = JsonSerializer.Deserialize(await ReadBlobAsync(artifacts, manifest.Config.Digest), ContractsJsonContext.Default.ModelCard)!;
        Assert.Equal("pumps@1", card.Lineage.DatasetName);
        Assert.Equal(version.SnapshotDigest, card.Lineage.DatasetDigest);
        Assert.Equal(version.Rows, card.Lineage.DatasetRows);
    }

    [Fact]
    public async Task Train_OnAnArffVersionWithCategoricalAndMissingValues_PublishesAModelTakingTheRawStringField()
    {
        using var root = new TempDirectory();
        var arff = Path.Combine(root.Path, "lines.arff");
        await File.WriteAllTextAsync(arff, Arff());
        await using var server = ControlPlaneFactory.With(new Dictionary<string, string> { ["Datasets:AllowedPaths:0"] = root.Path });
        using var client = server.CreateClient();
        using var registered = await client.PostAsJsonAsync(
            new Uri("/api/v1/datasets/lines/versions", UriKind.Relative),
            new RegisterDatasetRequest(new DatasetSourceRequest(DatasetSourceKinds.Path, Path: arff), Label: "fault"),
            ContractsJsonContext.Default.RegisterDatasetRequest);
        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);

        var profile = (await client.GetFromJsonAsync(new Uri("/api/v1/datasets/lines/versions/1/profile", UriKind.Relative), ContractsJsonContext.Default.DatasetProfile))!;
        Assert.Equal("lines@1", profile.Source);
        Assert.Equal(300, profile.Rows);
        Assert.Equal(28, Assert.Single(profile.Columns, c => c.Name == "temperature").Missing);
        Assert.Equal(3, Assert.Single(profile.Columns, c => c.Name == "line").Distinct);
        Assert.Equal("fault", profile.Label!.Column);
        Assert.Equal(300, profile.Label.Classes.Sum(c => c.Count));

        var run = await TrainingRuns.RunAsync(client, new TrainingRequest("lines@1", null, "logistic-regression", null));

        Assert.True(run.Status == TrainingRunStatuses.Succeeded, $"training run {run.Id} {run.Status}: {run.Error}");
        var artifacts = server.Services.GetRequiredService<IArtifactStore>();
        var manifest = JsonSerializer.Deserialize(await ReadBlobAsync(artifacts, run.ManifestDigest!), ContractsJsonContext.Default.OciManifest)!;
        var card = JsonSerializer.Deserialize(await ReadBlobAsync(artifacts, manifest.Config.Digest), ContractsJsonContext.Default.ModelCard)!;
        Assert.Equal(TensorElementTypes.String, Assert.Single(card.Inputs, i => i.Name == "line").ElementType);
        Assert.True(Assert.Single(card.Inputs, i => i.Name == "temperature").AcceptsMissing);
    }

    /// <summary>A production line (categorical, one name quoted), a temperature with gaps, and a fault that depends on both.</summary>
    private static string Arff()
    {
        var text = new System.Text.StringBuilder("% faults per line\n@relation lines\n@attribute line {press,'paint shop',weld}\n@attribute temperature numeric\n@attribute fault {no,yes}\n@data\n");
        var random = new Random(7);
        string[] lines = ["press", "'paint shop'", "weld"];
        for (var i = 0; i < 300; i++)
        {
            var line = i % 3;
            var temperature = 40 + (random.NextDouble() * 40);
            var fault = line == 2 ? temperature > 55 : temperature > 70;
            var shown = i % 11 == 0 ? "?" : temperature.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);
            text.Append(lines[line]).Append(',').Append(shown).Append(',').Append(fault ? "yes" : "no").Append('\n');
        }

        return text.ToString();
    }

    private static async Task<byte[]> ReadBlobAsync(IArtifactStore artifacts, string digest)
    {
        await using var blob = (await artifacts.OpenReadAsync(digest, CancellationToken.None))!;
        using var copy = new MemoryStream();
        await blob.CopyToAsync(copy);
        return copy.ToArray();
    }
}
