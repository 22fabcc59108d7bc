using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Contracts;
using EdgePlatform.FleetSim.Adapters;

namespace EdgePlatform.FleetSim.Tests;

public sealed class SimulatedModelRuntimeTests
{
    private static readonly ModelReference Control = new("models/m", "m", "1", "sha256:" + new string('1', 64), 500, "sig");
    private static readonly ModelReference Treatment = new("models/m", "m", "2", "sha256:" + new string('2', 64), 500, "sig");

    private readonly SimulatorOptions _options = NoWarmUp();
    private readonly FleetCounters _counters = new();

    [Fact]
    public async Task ActivateCandidate_Staged_RunsBesideTheActiveVersionWithItsPlacement()
    {
        var runtime = await ServingAsync();
        var placement = Split(20, "exp-1");

        runtime.ActivateCandidate(await runtime.StageAsync(Installed(Treatment), CancellationToken.None), placement);

        Assert.Equal((Control, Treatment), (runtime.Active?.Reference, runtime.Candidate?.Reference));
        Assert.Equal(placement, runtime.CandidatePlacement);
        Assert.Equal(1, _counters.Installed);
    }

    [Fact]
    public async Task StageAsync_CandidateToldToFailWarmUp_ThrowsAndTheActiveVersionScoresAlone()
    {
        _options.Versions["m:2"] = new VersionBehaviour(FailsWarmUp: true);
        var runtime = await ServingAsync();

        var error = await Assert.ThrowsAsync<ModelStageException>(() => runtime.StageAsync(Installed(Treatment), CancellationToken.None));

        Assert.Contains("warm-up failed for m:2", error.Message, StringComparison.Ordinal);
        Assert.Null(runtime.Candidate);
        Assert.Equal(Control, runtime.Active?.Reference);
    }

    [Fact]
    public async Task SetCandidateArmsThenDeactivate_ChangesThePlacementThenLeavesTheActiveVersionAlone()
    {
        var runtime = await ServingAsync();
        runtime.ActivateCandidate(await runtime.StageAsync(Installed(Treatment), CancellationToken.None), Split(20, "exp-1"));

        runtime.SetCandidateArms(Split(50, "exp-2"));
        Assert.Equal((50.0, "exp-2"), (runtime.CandidatePlacement?.Percent, runtime.CandidatePlacement?.Salt));

        runtime.DeactivateCandidate();
        Assert.Null(runtime.Candidate);
        Assert.Null(runtime.CandidatePlacement);
        Assert.Equal(Control, runtime.Active?.Reference);
        Assert.Throws<InvalidOperationException>(() => runtime.SetCandidateArms(Split(10, "exp-3")));
    }

    private async Task<SimulatedModelRuntime> ServingAsync()
    {
        var runtime = new SimulatedModelRuntime(_options, _counters, TimeProvider.System);
        runtime.Activate(await runtime.StageAsync(Installed(Control), CancellationToken.None));
        return runtime;
    }

    private static SimulatorOptions NoWarmUp()
    {
        var options = SimulatorOptionsTests.Usable();
        options.WarmUpSeconds = 0;
        return options;
    }

    private static InstalledModel Installed(ModelReference reference) =>
        new(
            reference,
            new ModelCard(
                reference.Name,
                reference.Version,
                ModelTasks.BinaryClassification,
                [new ModelInput("temperature", TensorElementTypes.Float32, [-1, 1], "temperature")],
                [new ModelOutput("PredictedLabel", TensorElementTypes.Bool, [-1, 1], PredictionFields.Label)],
                new Dictionary<string, double>(),
                new ModelLineage("run-1", "sensors", "sha256:" + new string('0', 64), 100, "FastTree", new Dictionary<string, string>(), "test"),
                [],
                DateTimeOffset.UnixEpoch),
            "model.onnx");

    private static ExperimentCandidate Split(double percent, string salt) =>
        new("treatment", Treatment, ExperimentModes.Split, percent, EventFields.CorrelationId, salt);
}
