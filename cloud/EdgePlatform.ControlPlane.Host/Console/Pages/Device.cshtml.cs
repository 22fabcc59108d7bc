using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Telemetry;
using Microsoft.AspNetCore.Mvc;

namespace EdgePlatform.ControlPlane.Host.Console.Pages;

public sealed class DeviceModel(FleetService fleet, TelemetryQueryService telemetry, TimeProvider timeProvider) : ConsolePage
{
    [BindProperty(SupportsGet = true)]
    public string Id { get; set; } = string.Empty;

    public DeviceInfo Device { get; private set; } = null!;

    public IReadOnlyList<TelemetryMinute> Minutes { get; private set; } = [];

    private DateTimeOffset _from;

    public string Clock(double seconds) => Format.When(_from.AddSeconds(seconds));

    public IReadOnlyList<ChartPoint> Series(Func<TelemetryMinute, double> value) =>
        [.. Minutes.GroupBy(m => m.Minute).OrderBy(g => g.Key).Select(g => new ChartPoint((g.Key - _from).TotalSeconds, g.Sum(value)))];

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        try
        {
            Device = await fleet.GetAsync(Id, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return NotFound();
        }

        _from = timeProvider.GetUtcNow().AddHours(-1);
        Minutes = (await telemetry.QueryAsync(new TelemetryQuery(Device: Id, From: _from), cancellationToken).ConfigureAwait(false)).Minutes;
        LiveFeed = $"/console/live/device/{Uri.EscapeDataString(Id)}";
        return Page();
    }
}
