using EdgePlatform.ControlPlane.Access;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Experiments;
using Microsoft.AspNetCore.Mvc;

namespace EdgePlatform.ControlPlane.Host.Console.Pages;

public sealed class ExperimentModel(ExperimentService experiments) : ConsolePage
{
    [BindProperty(SupportsGet = true)]
    public string Id { get; set; } = string.Empty;

    public ExperimentReport Report { get; private set; } = null!;

    /// <summary>Absolute difference against the control at each look, with its interval, per metric and arm.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<ChartPoint>> History { get; private set; } = new Dictionary<string, IReadOnlyList<ChartPoint>>();

    private DateTimeOffset _start;

    public string Clock(double seconds) => Format.When(_start.AddSeconds(seconds));

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        try
        {
            Report = await experiments.GetReportAsync(Id, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return NotFound();
        }

        _start = Report.Experiment.CreatedAt;
        History = Report.History
            .Where(look => !look.Relative)
            .GroupBy(look => $"{look.Metric}: {look.Arm} minus control")
            .ToDictionary(
                g => g.Key,
                g => (IReadOnlyList<ChartPoint>)[.. g.OrderBy(l => l.At).Select(l => new ChartPoint((l.At - _start).TotalSeconds, l.Estimate, l.Lower, l.Upper))],
                StringComparer.Ordinal);
        LiveFeed = $"/console/live/experiment/{Uri.EscapeDataString(Id)}";
        return Page();
    }

    public Task<IActionResult> OnPostPromoteAsync([FromForm] string? arm, CancellationToken cancellationToken) =>
        ActAsync(Permissions.Deploy, "Promoted: a staged rollout takes the arm's model to the experiment's devices.", () =>
            experiments.PromoteAsync(Id, new PromoteExperimentRequest(string.IsNullOrEmpty(arm) ? null : arm), Actor, cancellationToken));
}
