using EdgePlatform.ControlPlane.Access;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Training;
using Microsoft.AspNetCore.Mvc;

namespace EdgePlatform.ControlPlane.Host.Console.Pages;

public sealed class TrainingJobModel(SweepService sweeps) : ConsolePage
{
    [BindProperty(SupportsGet = true)]
    public string Id { get; set; } = string.Empty;

    public SweepInfo Sweep { get; private set; } = null!;

    public TrialPage Trials { get; private set; } = new([], 0, null);

    public IReadOnlyList<ChartPoint> Scores { get; private set; } = [];

    public IReadOnlyList<ChartPoint> BestSoFar { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        try
        {
            Sweep = await sweeps.GetAsync(Id, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return NotFound();
        }

        Trials = await sweeps.QueryTrialsAsync(Id, new TrialQuery(Limit: SweepService.MaxPageSize), cancellationToken).ConfigureAwait(false);
        var scored = Trials.Items.Where(t => t.Score is not null).OrderBy(t => t.Number).ToList();
        Scores = [.. scored.Select(t => new ChartPoint(t.Number, t.Score!.Value))];
        var higherIsBetter = Sweep.Metric is not { } metric || SweepMetrics.HigherIsBetter(metric);
        var best = new List<ChartPoint>();
        foreach (var trial in scored)
        {
            var score = trial.Score!.Value;
            var previous = best.Count == 0 ? score : best[^1].Y;
            best.Add(new ChartPoint(trial.Number, higherIsBetter ? Math.Max(previous, score) : Math.Min(previous, score)));
        }

        BestSoFar = best;
        LiveFeed = $"/console/live/sweep/{Uri.EscapeDataString(Id)}";
        return Page();
    }

    public Task<IActionResult> OnPostStopAsync(CancellationToken cancellationToken) =>
        ActAsync(Permissions.Train, "Stopped: its trials were cancelled and nothing is published.", () => sweeps.StopAsync(Id, cancellationToken));
}
