using System.CommandLine;
using EdgePlatform.FleetSim;

try
{
    // Long enough for a large fleet to say offline and disconnect after Ctrl-C or SIGTERM.
    return await SimulatorCommand.Create().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(60), EnableDefaultExceptionHandler = false });
}
catch (SimulatorException ex)
{
    await Console.Error.WriteLineAsync($"fleetsim: {ex.Message}");
    return 1;
}
