using EdgePlatform.Agent.Core.Packages;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Reconciliation;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using NSubstitute;

namespace EdgePlatform.Agent.Core.Tests.Reconciliation;

/// <summary>
/// One device and its publisher: a data directory, a clock, the real trust chain and package
/// installer, an in-memory registry and substitutes for the runtime and the cloud link.
/// </summary>
internal sealed class TestAgent : IDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly TempDirectory _data = new();

    public TestAgent(int targetsKeys = 1, int targetsThreshold = 1)
    {
        Publisher = new TestPublisher(Clock, targetsKeys, targetsThreshold);
    }

    public string DataDirectory => _data.Path;

    public ManualTimeProvider Clock { get; } = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));

    public TestPublisher Publisher { get; }

    public FakeRegistryClient Registry { get; } = new();

    public FakeRuntime Runtime { get; } = new();

    public ICloudLink Link { get; } = Substitute.For<ICloudLink>();

    public DesiredStateInbox Inbox { get; } = new();

    /// <summary>
    /// A reconciler as the host wires it; each call is a fresh agent process over the same data
    /// directory (new trust client, installer and state store), as after a restart.
    /// </summary>
    public Reconciler NewReconciler(
        FakeRuntime? runtime = null,
        string channel = TestPublisher.Production,
        IModelHealth? health = null,
        ProbationOptions? probation = null,
        Resilience.RetryBackoffOptions? reconcileRetry = null)
    {
        var agentOptions = new AgentOptions { DataDirectory = DataDirectory, Channel = channel };
        agentOptions.ReconcileRetry = reconcileRetry ?? agentOptions.ReconcileRetry;
        var options = Microsoft.Extensions.Options.Options.Create(agentOptions);
        var installer = new PackageInstaller(
            Registry, new LocalModelStore(DataDirectory), Publisher.NewDeviceTrust(DataDirectory), options, NullLogger<PackageInstaller>.Instance);
        return new Reconciler(
            installer,
            (runtime ?? Runtime).Port,
            Link,
            Inbox,
            new AgentStateStore(DataDirectory),
            Clock,
            NullLogger<Reconciler>.Instance,
            health,
            probation is null ? null : Microsoft.Extensions.Options.Options.Create(probation),
            options);
    }

    /// <summary>Builds a package, puts it in the registry and approves it for the given channels (production by default).</summary>
    public TestPackage Release(string version, string name = "sensor-anomaly", params string[] channels)
    {
        var package = Publisher.Build(name, version);
        Registry.Publish(package);
        Publisher.Approve(package, channels);
        return package;
    }

    public static DesiredState Desired(long version, TestPackage package) => Desired(version, package.Reference);

    public static DesiredState Desired(long version, ModelReference reference) =>
        new(version, new DeploymentSpec($"deployment-{version}", reference), TelemetrySettings.Default);

    /// <summary>A desired state placing the device in an experiment: <paramref name="primary"/> serves the control arm, <paramref name="candidate"/> beside it.</summary>
    public static DesiredState Desired(long version, TestPackage primary, ExperimentCandidate candidate) =>
        new(
            version,
            new DeploymentSpec($"deployment-{version}", primary.Reference) { Experiment = new ExperimentPlacement("exp-1", "control", candidate) },
            TelemetrySettings.Default);

    public static ExperimentCandidate Split(TestPackage candidate, double percent = 20, string salt = "exp-1-salt") =>
        new("treatment", candidate.Reference, ExperimentModes.Split, percent, EventFields.CorrelationId, salt);

    public AgentState SavedState() => new AgentStateStore(DataDirectory).Load();

    public void Dispose()
    {
        Publisher.Dispose();
        _data.Dispose();
    }
}

/// <summary>
/// An <see cref="IModelRuntime"/> substitute whose <c>Active</c> follows <c>Activate</c> and whose
/// <c>Candidate</c> follows the candidate calls, as the real one does.
/// </summary>
internal sealed class FakeRuntime
{
    private readonly List<StagedModel> _staged = [];
    private InstalledModel? _active;
    private InstalledModel? _candidate;

    public FakeRuntime()
    {
        Port.Active.Returns(_ => _active);
        Port.StageAsync(Arg.Any<InstalledModel>(), Arg.Any<CancellationToken>()).Returns(call =>
        {
            var staged = new StagedModel(call.Arg<InstalledModel>());
            _staged.Add(staged);
            return Task.FromResult<IStagedModel>(staged);
        });
        Port.When(r => r.Activate(Arg.Any<IStagedModel>())).Do(call =>
        {
            if (ActivationFailure is { } failure)
            {
                throw failure;
            }

            _active = call.Arg<IStagedModel>().Model;
        });
        Port.Candidate.Returns(_ => _candidate);
        Port.When(r => r.ActivateCandidate(Arg.Any<IStagedModel>(), Arg.Any<ExperimentCandidate>())).Do(call =>
        {
            _candidate = call.Arg<IStagedModel>().Model;
            Arms = call.Arg<ExperimentCandidate>();
        });
        Port.When(r => r.SetCandidateArms(Arg.Any<ExperimentCandidate>())).Do(call => Arms = call.Arg<ExperimentCandidate>());
        Port.When(r => r.DeactivateCandidate()).Do(_ =>
        {
            _candidate = null;
            Arms = null;
        });
    }

    /// <summary>The placement the candidate arm runs under; null when the active model scores alone.</summary>
    public ExperimentCandidate? Arms { get; private set; }

    public IModelRuntime Port { get; } = Substitute.For<IModelRuntime>();

    public IReadOnlyList<StagedModel> Staged => _staged;

    public Exception? ActivationFailure { get; set; }
}

internal sealed class StagedModel(InstalledModel model) : IStagedModel
{
    public InstalledModel Model { get; } = model;

    public int DisposeCount { get; private set; }

    public void Dispose() => DisposeCount++;
}
