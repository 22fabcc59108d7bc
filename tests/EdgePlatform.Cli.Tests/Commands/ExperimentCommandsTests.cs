using System.Text.Json;
using EdgePlatform.Cli.Commands;
using EdgePlatform.Contracts;

namespace EdgePlatform.Cli.Tests.Commands;

public sealed class ExperimentCommandsTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    private static readonly string[] TwoArms = ["--arm", "control=detector:1", "--arm", "treatment=detector:2"];

    private static string[] Minimal(params string[] more) =>
        ["ab", .. TwoArms, "--selector", "site=berlin", "--unit", "device", "--metric", "accuracy", .. more];

    [Fact]
    public void ParseCreate_EveryOption_BuildsTheRequest()
    {
        var request = ExperimentCommands.ParseCreate(
        [
            "detector-ab", "--arm", "control=detector:1", "--arm", "treatment=detector:2:3", "--arm", "wide=detector@staging:0.5",
            "-l", "site in (berlin,munich)", "--unit", "group", "--group-tag", "site", "--metric", "outcome-rate", "--outcome", "false-positive",
            "--max-p99-ms", "50", "--max-error-rate", "0.01", "--max-drift-psi", "0.2", "--priority", "5", "--duration", "7d", "--alpha", "0.01",
            "--sequential-tuning", "2000",
        ], Now);

        Assert.Equal("detector-ab", request.Name);
        Assert.Equal(
            [new ExperimentArmRequest("control", "detector:1"), new ExperimentArmRequest("treatment", "detector:2", 3), new ExperimentArmRequest("wide", "detector@staging", 0.5)],
            request.Arms!);
        Assert.Equal("site in (berlin,munich)", request.Selector);
        Assert.Equal(ExperimentUnits.Group, request.Unit);
        Assert.Equal("site", request.GroupTag);
        Assert.Null(request.KeyField);
        Assert.Null(request.Mode);
        Assert.Equal(new ExperimentMetric(ExperimentMetricKinds.OutcomeRate, ExperimentOutcomes.FalsePositive), request.Metric);
        Assert.Equal(new ExperimentGuardrails(50, 0.01, 0.2), request.Guardrails);
        Assert.Equal(5, request.Priority);
        Assert.Equal(Now.AddDays(7), request.EndsAt);
        Assert.Equal(0.01, request.Alpha);
        Assert.Equal(2000, request.SequentialTuning);
    }

    [Fact]
    public void ParseCreate_ShadowByEvent_SetsModeKeyAndEnd()
    {
        var request = ExperimentCommands.ParseCreate(
            ["shadow-ab", .. TwoArms, "-l", "hw=pi5", "--unit", "EVENT", "--key-field", "order_id", "--shadow", "--metric", "log-loss", "--ends-at", "2026-12-24T18:00:00Z"],
            Now);

        Assert.Equal(ExperimentUnits.Event, request.Unit);
        Assert.Equal("order_id", request.KeyField);
        Assert.Equal(ExperimentModes.Shadow, request.Mode);
        Assert.Equal(new ExperimentMetric(ExperimentMetricKinds.LogLoss), request.Metric);
        Assert.Equal(new DateTimeOffset(2026, 12, 24, 18, 0, 0, TimeSpan.Zero), request.EndsAt);
        Assert.Null(request.Guardrails);
        Assert.Null(request.Priority);
        Assert.Null(request.Alpha);
    }

    [Fact]
    public void ParseCreate_File_TakesTheSpecAndTheNameOverridesIt()
    {
        var path = Path.Combine(Path.GetTempPath(), $"experiment-{Guid.NewGuid():N}.json");
        var spec = new CreateExperimentRequest("from-file", [new("control", "detector:1"), new("treatment", "detector:2")], "site=berlin", ExperimentUnits.Device, Metric: new(ExperimentMetricKinds.Auc));
        File.WriteAllText(path, JsonSerializer.Serialize(spec, ContractsJsonContext.Default.CreateExperimentRequest));
        try
        {
            var fromFile = ExperimentCommands.ParseCreate(["--file", path], Now);
            var renamed = ExperimentCommands.ParseCreate(["renamed", "--file", path], Now);

            Assert.Equal("from-file", fromFile.Name);
            Assert.Equal(spec.Arms, fromFile.Arms!);
            Assert.Equal(new ExperimentMetric(ExperimentMetricKinds.Auc), fromFile.Metric);
            Assert.Equal("renamed", renamed.Name);
            var mixed = Assert.Throws<CliException>(() => ExperimentCommands.ParseCreate(["--file", path, "--unit", "group", "--shadow"], Now));
            Assert.Equal("--file holds the whole spec; leave out --unit, --shadow or the file", mixed.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ParseCreate_FileNotJson_NamesTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"experiment-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, "arms: 2");
        try
        {
            var exception = Assert.Throws<CliException>(() => ExperimentCommands.ParseCreate(["--file", path], Now));

            Assert.StartsWith($"--file '{path}': not a CreateExperimentRequest in JSON", exception.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    public static TheoryData<string[], string> BadCreates => new()
    {
        { Minimal().Select(a => a == "device" ? "site" : a).ToArray(), "--unit: 'site' is not a unit of assignment; use one of device, group, event" },
        { ["ab", "--arm", "control", "--arm", "treatment=detector:2", "-l", "a=b", "--unit", "device", "--metric", "accuracy"], "--arm 'control': arm 'control' has no model; write control=MODEL:VERSION[:WEIGHT] or control=MODEL@ALIAS[:WEIGHT]" },
        { ["ab", "--arm", "control=", "--arm", "treatment=detector:2", "-l", "a=b", "--unit", "device", "--metric", "accuracy"], "--arm 'control=': arm 'control' has no model" },
        { ["ab", "--arm", "=detector:1", "--arm", "treatment=detector:2", "-l", "a=b", "--unit", "device", "--metric", "accuracy"], "--arm '=detector:1': the arm has no name" },
        { ["ab", "--arm", "control=detector:1", "--arm", "treatment=detector:2:0", "-l", "a=b", "--unit", "device", "--metric", "accuracy"], "--arm 'treatment=detector:2:0': weight 0 must be greater than 0" },
        { ["ab", "--arm", "control=detector:1", "--arm", "treatment=detector@prod:-1", "-l", "a=b", "--unit", "device", "--metric", "accuracy"], "--arm 'treatment=detector@prod:-1': weight -1 must be greater than 0" },
        { ["ab", "--arm", "control=detector:1", "--arm", "treatment=detector:2:lots", "-l", "a=b", "--unit", "device", "--metric", "accuracy"], "--arm 'treatment=detector:2:lots': weight 'lots' is not a number" },
        { ["ab", "--arm", "control=detector:1", "-l", "a=b", "--unit", "device", "--metric", "accuracy"], "--arm: an experiment needs at least two arms, the control first (got 1)" },
        { ["ab", "--arm", "a=detector:1", "--arm", "a=detector:2", "-l", "a=b", "--unit", "device", "--metric", "accuracy"], "--arm: arm 'a' is named 2 times" },
        { Minimal("--outcome", "false-positive"), "--outcome applies only to --metric outcome-rate, not to accuracy" },
        { Minimal().Select(a => a == "accuracy" ? "outcome-rate" : a).ToArray(), "--metric outcome-rate needs --outcome, one of true-positive, false-positive" },
        { [.. Minimal().Select(a => a == "accuracy" ? "outcome-rate" : a), "--outcome", "misses"], "--outcome: 'misses' is not an outcome; use one of true-positive" },
        { Minimal().Select(a => a == "accuracy" ? "f1" : a).ToArray(), "--metric: 'f1' is not a metric; use one of accuracy, log-loss, auc, mae, outcome-rate" },
        { Minimal().Select(a => a == "device" ? "group" : a).ToArray(), "--unit group needs --group-tag" },
        { Minimal("--group-tag", "site"), "--group-tag applies only to --unit group, not to --unit device" },
        { Minimal("--duration", "7d", "--ends-at", "2027-01-01T00:00:00Z"), "--ends-at and --duration both set the end date; give one" },
        { Minimal("--duration", "a week"), "--duration: 'a week' is not a duration such as 90s, 30m, 12h, 7d or 2w" },
        { Minimal("--duration", "0d"), "--duration: '0d' must be longer than zero" },
        { Minimal("--ends-at", "2026-12-01T00:00:00Z"), "--ends-at: 2026-12-01T00:00:00.0000000+00:00 is not in the future" },
        { Minimal("--ends-at", "next friday"), "--ends-at: 'next friday' is not a date and time" },
        { Minimal("--alpha", "0.7"), "--alpha: 0.7 must be above 0 and at most 0.5" },
        { Minimal("--max-error-rate", "2"), "--max-error-rate: 2 must be a fraction of events above 0 and at most 1" },
        { Minimal("--max-p99-ms", "-5"), "--max-p99-ms: -5 must be a latency above 0 milliseconds" },
        { Minimal("--priority", "-1"), "--priority: -1 must be 0 or more" },
        { Minimal("--priority", "high"), "--priority" },
        { Minimal().Where(a => a is not ("-l" or "--selector" or "site=berlin")).ToArray(), "--selector is required" },
        { ["--arm", "control=detector:1"], "experiment create needs a NAME (or --file with a spec)" },
    };

    [Theory]
    [MemberData(nameof(BadCreates))]
    public void ParseCreate_BadInput_RefusedNamingTheOption(string[] args, string message)
    {
        var exception = Assert.Throws<CliException>(() => ExperimentCommands.ParseCreate(args, Now));

        Assert.Contains(message, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseArm_BareModel_IsPassedOnForTheServer()
    {
        Assert.Equal(new ExperimentArmRequest("control", "detector"), ExperimentArguments.ParseArm("control=detector"));
        Assert.Equal(new ExperimentArmRequest("control", "detector@prod"), ExperimentArguments.ParseArm("control=detector@prod"));
    }

    [Fact]
    public void ParseStages_PercentagesAndBake_AreCumulativeStages()
    {
        Assert.Equal(
            [new RolloutStage(10, null, 300), new RolloutStage(50, null, 300), new RolloutStage(100, null, 300)],
            ExperimentArguments.ParseStages("10,50%,100", "5m")!);
        Assert.Null(ExperimentArguments.ParseStages(null, null));
    }

    [Theory]
    [InlineData("50,10", null, "--stages '50,10': stages are cumulative, so each must be larger than the one before (10 follows 50)")]
    [InlineData("10,150", null, "--stages '10,150': '150' is not a percentage of the devices above 0 and at most 100")]
    [InlineData(null, "5m", "--bake needs --stages, e.g. --stages 10,50,100 --bake 5m")]
    [InlineData("10,100", "soon", "--bake: 'soon' is not a duration such as 90s, 30m, 12h, 7d or 2w")]
    public void ParseStages_Bad_RefusedNamingTheOption(string? stages, string? bake, string message)
    {
        Assert.Equal(message, Assert.Throws<CliException>(() => ExperimentArguments.ParseStages(stages, bake)).Message);
    }

    [Fact]
    public void ParsePower_Valid_BuildsTheRequest()
    {
        Assert.Equal(new PowerRequest("accuracy", 0.8, 0.02, null, 0.05, 0.8, 3), ExperimentArguments.ParsePower("Accuracy", 0.8, 0.02, null, 0.05, 0.8, 3));
        Assert.Equal(new PowerRequest("mae", 3.5, 0.1, 1.2, null, null, null), ExperimentArguments.ParsePower("mae", 3.5, 0.1, 1.2, null, null, null));
    }

    [Theory]
    [InlineData("accuracy", 1.2, 0.02, null, null, null, null, "--baseline: 1.2 must be a rate above 0 and below 1 for accuracy")]
    [InlineData("accuracy", 0.8, 0, null, null, null, null, "--mde: 0 must be an absolute difference above 0")]
    [InlineData("mae", 3.5, 0.1, null, null, null, null, "--sd is needed for mae")]
    [InlineData("accuracy", 0.8, 0.02, null, null, 1.0, null, "--power: 1 must be a probability above 0 and below 1")]
    [InlineData("accuracy", 0.8, 0.02, null, null, null, 1, "--arms: 1 must be at least 2")]
    [InlineData("accuracy", 0.8, 0.02, null, 0.0, null, null, "--alpha: 0 must be above 0 and at most 0.5")]
    [InlineData("recall", 0.8, 0.02, null, null, null, null, "--metric: 'recall' is not a metric")]
    public void ParsePower_Bad_RefusedNamingTheOption(string metric, double baseline, double mde, double? sd, double? alpha, double? power, int? arms, string message)
    {
        var exception = Assert.Throws<CliException>(() => ExperimentArguments.ParsePower(metric, baseline, mde, sd, alpha, power, arms));

        Assert.StartsWith(message, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DescribePower_SaysWhatEachNumberIs()
    {
        var text = ExperimentCommands.DescribePower(new PowerResult("accuracy", 0.8, 0.02, 0.4, 0.05, 0.8, 2, 6281, 12562, "two-proportion z, normal approximation"));

        Assert.Equal(
            "metric:        accuracy, baseline 0.8, standard deviation per unit 0.4\n"
            + "detects:       an absolute difference of 0.02 (2.5% of the baseline)\n"
            + "with:          α 0.05 (two-sided), power 0.8, 2 arms\n"
            + "units per arm: 6,281\n"
            + "units in all:  12,562\n"
            + "method:        two-proportion z, normal approximation\n",
            text);
    }

    [Fact]
    public void Create_ExperimentGroup_HasEverySubcommand()
    {
        Assert.Equal(
            ["create", "list", "status", "report", "stop", "promote", "power"],
            ExperimentCommands.Create().Subcommands.Select(c => c.Name));
    }
}
