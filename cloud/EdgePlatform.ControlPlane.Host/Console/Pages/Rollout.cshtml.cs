using System.Globalization;
using EdgePlatform.ControlPlane.Access;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Rollouts;
using Microsoft.AspNetCore.Mvc;

namespace EdgePlatform.ControlPlane.Host.Console.Pages;

public sealed class RolloutModel(RolloutService rollouts) : ConsolePage
{
    [BindProperty(SupportsGet = true)]
    public string Id { get; set; } = string.Empty;

    [BindProperty(SupportsGet = true)]
    public string? After { get; set; }

    public RolloutDetail Detail { get; private set; } = null!;

    /// <summary>Each gate that is on, with its threshold and, where the page can tell, its value now.</summary>
    public IReadOnlyList<GateRow> Gates { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        try
        {
            Detail = await rollouts.GetDetailAsync(Id, null, After, 100, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return NotFound();
        }

        Gates = GateRows(Detail.Rollout);
        LiveFeed = $"/console/live/rollout/{Uri.EscapeDataString(Id)}";
        return Page();
    }

    public Task<IActionResult> OnPostPauseAsync(CancellationToken cancellationToken) =>
        ActAsync(Permissions.Deploy, "Paused.", () => rollouts.PauseAsync(Id, Actor, cancellationToken));

    public Task<IActionResult> OnPostResumeAsync(CancellationToken cancellationToken) =>
        ActAsync(Permissions.Deploy, "Resumed.", () => rollouts.ResumeAsync(Id, Actor, cancellationToken));

    public Task<IActionResult> OnPostAbortAsync(CancellationToken cancellationToken) =>
        ActAsync(Permissions.Deploy, "Aborted.", () => rollouts.AbortAsync(Id, Actor, cancellationToken));

    public sealed record GateRow(string Name, string Threshold, string Value, bool? Holds);

    private static List<GateRow> GateRows(RolloutInfo rollout)
    {
        var gates = rollout.Gates;
        var counts = rollout.Counts ?? new Dictionary<string, int>();
        var failed = counts.GetValueOrDefault(RolloutDeviceStates.Failed);
        var finished = failed + counts.GetValueOrDefault(RolloutDeviceStates.Active);
        var rows = new List<GateRow>();
        if (gates.MaxFailurePercent is { } maxFailure)
        {
            // The rule the engine applies: a failure share over the limit aborts once enough devices finished.
            var minDevices = gates.MinDevices ?? 0;
            var share = finished == 0 ? 0 : 100.0 * failed / finished;
            rows.Add(new(
                "failure percentage",
                Invariant($"at most {maxFailure} % once {minDevices} devices finished"),
                Invariant($"{share:0.##} % of {finished} finished"),
                finished < minDevices ? null : share <= maxFailure));
        }

        void Read(string name, object? threshold)
        {
            if (threshold is not null)
            {
                rows.Add(new(name, Convert.ToString(threshold, CultureInfo.InvariantCulture)!, "from the stage's telemetry", null));
            }
        }

        Read("error rate at most", gates.MaxErrorRate);
        Read("events scored at least", gates.MinEventsScored);
        Read("p99 latency regression at most", gates.MaxP99Regression);
        Read("quality metric", gates.QualityMetric is { } metric ? $"{metric}, margin {gates.QualityMargin}" : null);
        if (gates.RequireAttestation)
        {
            rows.Add(new("attestation", "required", "checked per device", null));
        }

        return rows;
    }

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);
}
