using System.Diagnostics;
using EdgePlatform.ControlPlane.Devices;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Console.Pages;

public sealed class FleetModel(FleetService fleet, IOptions<ConsoleOptions> options) : ConsolePage
{
    [BindProperty(SupportsGet = true)]
    public string? Selector { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? After { get; set; }

    public DevicePage Result { get; private set; } = new([], null);

    public string? SelectorProblem { get; private set; }

    /// <summary>How long the store read took, shown on the page and read by the benchmark.</summary>
    public double ServerMilliseconds { get; private set; }

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            Result = await fleet.PageAsync(Selector, After, options.Value.FleetPageSize, cancellationToken).ConfigureAwait(false);
            LiveFeed = $"/console/live/fleet?selector={Uri.EscapeDataString(Selector ?? string.Empty)}&after={Uri.EscapeDataString(After ?? string.Empty)}";
        }
        catch (RequestValidationException ex)
        {
            SelectorProblem = ex.Message;
            Response.StatusCode = StatusCodes.Status400BadRequest;
        }

        ServerMilliseconds = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }
}
