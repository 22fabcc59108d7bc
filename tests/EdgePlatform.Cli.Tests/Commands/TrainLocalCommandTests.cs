using System.CommandLine;
using System.Text.Json;
using EdgePlatform.Cli.Commands;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Scoring;

namespace EdgePlatform.Cli.Tests.Commands;

/// <summary>Redirects the process's console, so it runs apart from every other test.</summary>
[CollectionDefinition(nameof(TrainLocalCommandTests), DisableParallelization = true)]
[Collection(nameof(TrainLocalCommandTests))]
public sealed class TrainLocalCommandTests
{
    /// <summary>A small multiclass file: three classes separated by two numbers, with noise.</summary>
    private static string WriteData(string dir)
    {
        var random = new Random(5);
        var lines = new List<string> { "x,y,kind" };
        for (var i = 0; i < 120; i++)
        {
            var kind = i % 3;
            lines.Add(FormattableString.Invariant($"{kind + (random.NextDouble() * 0.8)},{(kind * 2) + random.NextDouble()},k{kind}"));
        }

        var path = Path.Combine(dir, "kinds.csv");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public async Task TrainLocal_SpecAndCsv_WritesAModelCardAndTrials()
    {
        var dir = Directory.CreateTempSubdirectory("train-local-").FullName;
        try
        {
            var data = WriteData(dir);
            var spec = Path.Combine(dir, "sweep.json");
            await File.WriteAllTextAsync(spec, """{ "label": "kind", "maxTrials": 6, "folds": 3, "trainers": ["lbfgs-maxent", "lightgbm"] }""");
            var output = new StringWriter();
            var original = Console.Out;
            int exit;
            try
            {
                Console.SetOut(output);
                var root = new RootCommand { CliOptions.Output, FleetCommands.Train() };
                exit = await root.Parse(["train", "--local", "--spec", spec, "--data", data, "--out", Path.Combine(dir, "out"), "--parallel", "2", "-o", "json"]).InvokeAsync();
            }
            finally
            {
                Console.SetOut(original);
            }

            Assert.Equal(0, exit);
            var printed = JsonSerializer.Deserialize(output.ToString(), ContractsJsonContext.Default.ModelCard)!;
            var card = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(Path.Combine(dir, "out", "card.json")), ContractsJsonContext.Default.ModelCard)!;
            Assert.Equal(printed.Lineage.Trainer, card.Lineage.Trainer);
            Assert.Equal(ModelTasks.MulticlassClassification, card.Task);
            Assert.Equal(["k0", "k1", "k2"], card.Classes);
            Assert.Equal(6, card.Search!.Trials);
            Assert.Equal("3-fold stratified cross-validation", card.Search.Validation);

            using var trials = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(dir, "out", "trials.json")));
            Assert.Equal(6, trials.RootElement.GetArrayLength());

            using var scorer = new OnnxScorer(await File.ReadAllBytesAsync(Path.Combine(dir, "out", "model.onnx")), card);
            var predicted = scorer.PredictMulticlass([new Dictionary<string, float> { ["x"] = 2.4f, ["y"] = 4.5f }]);
            Assert.Equal("k2", predicted[0].Label);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task TrainLocal_MetricNotForTheTask_NamesTheField()
    {
        var dir = Directory.CreateTempSubdirectory("train-local-").FullName;
        try
        {
            var data = WriteData(dir);
            var spec = Path.Combine(dir, "sweep.json");
            await File.WriteAllTextAsync(spec, """{ "label": "kind", "metric": "rmse" }""");
            var root = new RootCommand { CliOptions.Output, FleetCommands.Train() };

            var ex = await Assert.ThrowsAsync<CliException>(() => root.Parse(["train", "--local", "--spec", spec, "--data", data]).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));

            Assert.Contains("field 'metric'", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
