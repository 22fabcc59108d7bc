using Microsoft.Extensions.Hosting;

namespace EdgePlatform.ControlPlane.Training;

/// <summary>Runs queued training jobs one at a time, so training never starves the API of CPU.</summary>
public sealed class TrainingWorker(TrainingService training) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await foreach (var job in training.Queue.ReadAllAsync(stoppingToken).ConfigureAwait(false))
        {
            await training.RunJobAsync(job, stoppingToken).ConfigureAwait(false);
        }
    }
}
