using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.ControlPlane.Host.Console;

/// <summary>The web console at <c>/console</c> (settings in <c>Console</c>).</summary>
public sealed class ConsoleOptions
{
    public const string Section = "Console";

    /// <summary>How often a live page's server-sent events stream looks for a change, in milliseconds (default 1000).</summary>
    [Range(100, 60_000)]
    public int LiveIntervalMilliseconds { get; set; } = 1000;

    /// <summary>How long a console session lasts without use before the token has to be entered again, in minutes (default 480).</summary>
    [Range(1, 10_080)]
    public int SessionMinutes { get; set; } = 480;

    /// <summary>Devices on one page of the fleet (default 100; at most <see cref="ControlPlane.Devices.FleetService.MaxPageSize"/>).</summary>
    [Range(1, ControlPlane.Devices.FleetService.MaxPageSize)]
    public int FleetPageSize { get; set; } = 100;
}
