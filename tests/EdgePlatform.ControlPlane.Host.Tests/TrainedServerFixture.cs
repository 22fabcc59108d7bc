using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Host.Tests;

/// <summary>A server that has trained and published one model from its built-in dataset.</summary>
public sealed class TrainedServerFixture : IAsyncLifetime
{
    /// <summary>Test classes in this collection share one trained server, since training takes a while.</summary>
    public const string Collection = "trained server";

    public ControlPlaneFactory Server { get; } = new();

    public TrainingRunInfo Run { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        using var client = Server.CreateClient();
        var run = await TrainingRuns.RunAsync(client, new TrainingRequest(null, null, null, null));

        Assert.True(run.Status == TrainingRunStatuses.Succeeded, $"training run {run.Id} {run.Status}: {run.Error}");
        Run = run;
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

[CollectionDefinition(TrainedServerFixture.Collection)]
public sealed class TrainedServerDefinition : ICollectionFixture<TrainedServerFixture>;
