using System.Net;
using System.Net.Http.Json;
using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Host.Tests;

/// <summary>Training runs driven through the API as a user drives them.</summary>
internal static class TrainingRuns
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(180);

    /// <summary>Starts a run and asks after it until it ends (the API offers no completion event), within <see cref="Timeout"/>.</summary>
    public static async Task<TrainingRunInfo> RunAsync(HttpClient client, TrainingRequest request)
    {
        using var started = await client.PostAsJsonAsync(new Uri("/api/v1/training-runs", UriKind.Relative), request, ContractsJsonContext.Default.TrainingRequest);
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var run = (await started.Content.ReadFromJsonAsync(ContractsJsonContext.Default.TrainingRunInfo))!;
        using var deadline = new CancellationTokenSource(Timeout);
        using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
        while (run.Status == TrainingRunStatuses.Running)
        {
            await ticks.WaitForNextTickAsync(deadline.Token);
            run = (await client.GetFromJsonAsync(new Uri($"/api/v1/training-runs/{run.Id}", UriKind.Relative), ContractsJsonContext.Default.TrainingRunInfo, deadline.Token))!;
        }

        return run;
    }
}
