using System.Net;
using System.Net.Http.Json;
using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Host.Tests;

/// <summary>A server that has trained and published one model from its built-in dataset.</summary>
public sealed class TrainedServerFixture : IAsyncLifetime
{
    /// <summary>Test classes in this collection share one trained server, since training takes a while.</summary>
    public const string Collection = "trained server";

    private static readonly TimeSpan TrainingTimeout = TimeSpan.FromSeconds(120);

    public ControlPlaneFactory Server { get; } = new();

    public TrainingRunInfo Run { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        using var client = Server.CreateClient();
        using var started = await client.PostAsJsonAsync(
            new Uri("/api/v1/training-runs", UriKind.Relative),
            new TrainingRequest(null, null, null, null),
            ContractsJsonContext.Default.TrainingRequest);
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var run = (await started.Content.ReadFromJsonAsync(ContractsJsonContext.Default.TrainingRunInfo))!;

        // The API offers no completion event, so ask as a user would, within a deadline.
        using var deadline = new CancellationTokenSource(TrainingTimeout);
        using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
        while (run.Status == TrainingRunStatuses.Running)
        {
            await ticks.WaitForNextTickAsync(deadline.Token);
            run = (await client.GetFromJsonAsync(new Uri($"/api/v1/training-runs/{run.Id}", UriKind.Relative), ContractsJsonContext.Default.TrainingRunInfo, deadline.Token))!;
        }

        Assert.True(run.Status == TrainingRunStatuses.Succeeded, $"training run {run.Id} {run.Status}: {run.Error}");
        Run = run;
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

[CollectionDefinition(TrainedServerFixture.Collection)]
public sealed class TrainedServerDefinition : ICollectionFixture<TrainedServerFixture>;
