namespace EdgePlatform.FleetSim.Tests;

public sealed class SimulatorOptionsTests
{
    [Fact]
    public void Validate_UsableOptions_FindsNothing()
    {
        Assert.Empty(Usable().Validate());
    }

    [Fact]
    public void Validate_BadValues_NamesEachOptionAndValue()
    {
        var options = Usable();
        options.Devices = 0;
        options.ErrorRate = 1.5;
        options.LateShare = 1;
        options.DownloadConcurrency = 0;
        options.LabelledShare = 2;
        options.Versions["sensor-anomaly:4"] = new VersionBehaviour(Accuracy: 1.2);
        options.Versions["sensor-anomaly:3"] = new VersionBehaviour(ErrorRate: -0.1);
        options.Versions["no-version"] = new VersionBehaviour(FailsWarmUp: true);

        var problems = options.Validate();

        Assert.Contains("--devices must be between 1 and 1000000, not 0", problems);
        Assert.Contains("--error-rate must be between 0 and 1, not 1.5", problems);
        Assert.Contains("--late-share must leave at least one device to start with (below 1)", problems);
        Assert.Contains("--download-concurrency must be between 1 and 10000, not 0", problems);
        Assert.Contains("--version-error-rate sensor-anomaly:3 must be between 0 and 1, not -0.1", problems);
        Assert.Contains("--labelled-share must be between 0 and 1, not 2", problems);
        Assert.Contains("--accuracy sensor-anomaly:4 must be between 0 and 1, not 1.2", problems);
        Assert.Contains("'no-version' is not name:version (in --version-error-rate, --version-latency-ms, --accuracy or --fail-warmup)", problems);
    }

    [Fact]
    public void Validate_NoServerNoKey_SaysWhatIsMissing()
    {
        var problems = new SimulatorOptions().Validate();

        Assert.Contains("--server must be the control plane's absolute http:// or https:// URL", problems);
        Assert.Contains(problems, p => p.StartsWith("an enrollment key is required", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_PrefixMakingInvalidIds_SaysWhichIdAndWhy()
    {
        var options = Usable();
        options.IdPrefix = "bad/prefix";

        var problem = Assert.Single(options.Validate());

        Assert.StartsWith("--id-prefix 'bad/prefix' makes device ids such as 'bad/prefix-00100' that are not valid", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void BehaviourOf_NamedVersion_OverridesFleetDefaultsOnlyForIt()
    {
        var options = Usable();
        options.ErrorRate = 0.01;
        options.Versions["m:2"] = new VersionBehaviour(ErrorRate: 0.4);

        Assert.Equal(0.4, options.ErrorRateOf("m", "2"));
        Assert.Equal(0.01, options.ErrorRateOf("m", "1"));
        Assert.Equal(options.LatencyMs, options.LatencyOf("m", "2"));
    }

    internal static SimulatorOptions Usable() => new()
    {
        ControlPlane = new Uri("http://127.0.0.1:5080"),
        EnrollmentKey = "key",
    };
}
