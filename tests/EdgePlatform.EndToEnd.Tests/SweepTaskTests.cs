using System.Globalization;
using System.Text.Json;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;
using EdgePlatform.Training;
using EdgePlatform.Training.Scoring;
using EdgePlatform.Training.Sweeps;
using EdgePlatform.Training.Tests.Data;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// Each task end to end on real data from Debian's weka package: a dataset uploaded with
/// <c>edgectl dataset add</c>, a sweep run by an <c>edgectl worker</c> process, the winner
/// registered as a signed version, rolled out to a device of its own, and the device's predictions
/// for the dataset's rows equal to the ML.NET model's within the parity rule.
/// </summary>
[Trait("Category", "EndToEnd")]
[Collection(SharedPlatform.Name)]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the test class through IAsyncLifetime.DisposeAsync.")]
public sealed class SweepTaskTests(PlatformFixture platform) : IAsyncLifetime
{
    private const string DeviceId = "e2e-device-sweeps";
    private const int Rows = 25;
    private static readonly TimeSpan SweepTimeout = TimeSpan.FromMinutes(5);

    private readonly ProcessGroup _processes = new();
    private HostProcess? _agent;
    private LocalBus? _bus;

    public static TheoryData<string, string, string, string> Tasks() => new()
    {
        // Nominal features with missing values: string inputs, one-hot encoded inside the graph.
        { ModelTasks.BinaryClassification, "breast-cancer", "Class", "lightgbm,lbfgs-logistic" },
        { ModelTasks.MulticlassClassification, "iris", "class", "lightgbm,sdca-maxent" },
        { ModelTasks.Regression, "cpu", "class", "fasttree,sdca" },
    };

    [WekaExamplesTheory]
    [MemberData(nameof(Tasks))]
    public async Task Sweep_RegisteredVersionRolledOut_DeviceScoresAsMlNetWithinTheParityRule(string task, string dataset, string label, string trainers)
    {
        var file = WekaExamples.File(dataset);
        var name = $"sweep-{dataset}";
        var (added, addOutput) = await Edgectl.RunAsync("dataset", "add", name, file, "--label", label, "--server", platform.Endpoints.HttpUrl, "--token", platform.AdminToken);
        Assert.True(added == 0, addOutput);

        var sweep = await platform.Api.SubmitSweepAsync(
            new SweepSpec { Dataset = name, Task = task, Trainers = trainers.Split(','), MaxTrials = 4, Folds = 3, ModelName = name },
            default);
        await Wait.UntilAsync(
            async () => !SweepStatuses.IsActive((sweep = await platform.Api.GetSweepAsync(sweep.Id, default)).Status),
            $"sweep {sweep.Id} on {dataset} to end",
            SweepTimeout);
        Assert.True(sweep.Status == SweepStatuses.Succeeded, $"sweep {sweep.Id} ended {sweep.Status}: {sweep.Error}");
        Assert.Equal(task, sweep.Task);

        var model = await platform.Api.GetModelAsync($"{name}:{sweep.ModelVersion}", default);
        var card = await platform.CardAsync(model.Repository, model.ManifestDigest);
        Assert.Equal(task, card.Task);
        Assert.Equal(sweep.Id, card.Search!.SweepId);
        Assert.Equal(sweep.BestScore!.Value, card.Search.BestScore);
        var mlNet = new MlNetScorer(await platform.LayerAsync(model.Repository, model.ManifestDigest, MediaTypes.MlNetModel));

        await platform.Api.DeployAsync(new CreateDeploymentRequest($"{name}:{sweep.ModelVersion}", [DeviceId], null), default);
        await platform.WaitForReportAsync(DeviceId, d => PlatformFixture.IsActive(d, model.ManifestDigest), $"the sweep device to activate {name}:{sweep.ModelVersion}");

        var data = Read(file, label, task);
        var rows = Enumerable.Range(0, Rows).Select(r => r * data.RowCount / Rows).ToArray();
        var features = rows.Select(data.GetFeatures).ToArray();
        var strings = rows.Select(data.GetStrings).ToArray();
        var tolerance = ParityTolerance.Default;
        for (var i = 0; i < rows.Length; i++)
        {
            var id = $"{dataset}-{rows[i]}";
            var prediction = await _bus!.ScoreAsync(id, WalkingSkeletonTests.EventJson(id, features[i], strings[i]));
            Assert.Equal(sweep.ModelVersion, prediction.ModelVersion);
            switch (task)
            {
                case ModelTasks.BinaryClassification:
                    var binary = mlNet.Predict([features[i]], [strings[i]])[0];
                    AssertClose(tolerance, binary.Probability, prediction.Probability!.Value, $"{id} probability");
                    AssertClose(tolerance, binary.Score, prediction.Score!.Value, $"{id} score");
                    break;
                case ModelTasks.MulticlassClassification:
                    var multiclass = mlNet.PredictMulticlass([features[i]], [strings[i]])[0];
                    Assert.Equal(multiclass.Label, prediction.Class);
                    Assert.Equal(multiclass.Probabilities.Count, prediction.Probabilities!.Count);
                    for (var c = 0; c < multiclass.Probabilities.Count; c++)
                    {
                        AssertClose(tolerance, multiclass.Probabilities[c], prediction.Probabilities[c], $"{id} probability of {card.Classes![c]}");
                    }

                    break;
                default:
                    AssertClose(tolerance, mlNet.PredictRegression([features[i]], [strings[i]])[0], prediction.Score!.Value, $"{id} prediction");
                    break;
            }
        }
    }

    public async Task InitializeAsync()
    {
        var worker = await platform.Api.CreateTokenAsync(new CreateTokenRequest($"sweep-worker-{Guid.NewGuid():N}", "worker"), default);
        _processes.Start(
            "sweep-worker",
            typeof(CliException).Assembly.Location,
            ["worker", "--server", platform.Endpoints.HttpUrl, "--token", worker.Token, "--id", "e2e-worker", "--cache", Path.Combine(platform.Root, "worker-cache")],
            Path.Combine(platform.Root, "sweep-worker.log"));
        // Each case starts the device anew: the last case's announcement names a port no longer open.
        var announcementFile = Path.Combine(platform.Root, DeviceId, AgentEndpoints.FileName);
        if (File.Exists(announcementFile))
        {
            File.Delete(announcementFile);
        }
        _agent = platform.StartAgent(DeviceId);
        var announcement = await Wait.ForFileAsync(
            announcementFile, _agent, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.AgentEndpoints));
        try
        {
            _bus = await LocalBus.ConnectAsync(DeviceId, announcement.LocalBrokerPort);
        }
        catch (OperationCanceledException ex)
        {
            throw new InvalidOperationException($"no connection to the agent's local broker on port {announcement.LocalBrokerPort}; its log ends:\n{string.Join('\n', File.ReadLines(platform.AgentLog(DeviceId)).TakeLast(30))}", ex);
        }
        await platform.WaitForReportAsync(DeviceId, d => d.Attestation?.State == AttestationStates.Verified, "the sweep device to attest");
    }

    public async Task DisposeAsync()
    {
        if (_bus is not null)
        {
            await _bus.DisposeAsync();
        }

        if (_agent is not null)
        {
            await _agent.DisposeAsync();
        }

        await _processes.DisposeAsync();
    }

    /// <summary>The rows as the sweep read them: the ARFF's kinds, the label read for the task.</summary>
    private static TabularDataset Read(string file, string label, string task) =>
        SweepData.LoadFile(file, new SweepSpec { Label = label, Task = task });

    private static void AssertClose(ParityTolerance tolerance, double trained, double device, string what) =>
        Assert.True(
            Math.Abs(trained - device) <= tolerance.Allowed(trained, device),
            string.Create(CultureInfo.InvariantCulture, $"{what}: ML.NET {trained:R}, the device {device:R}, allowed {tolerance.Allowed(trained, device):G3}"));
}
