using System.CommandLine;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Commands;

var root = new RootCommand("edgectl: train, sign and roll out ONNX models to edge devices, and watch them run")
{
    CliOptions.Output,
    CliOptions.Server,
    CliOptions.Token,
    CliOptions.CaFile,
    CliOptions.CaFingerprint,
    HostCommands.Server(),
    HostCommands.Agent(),
    DemoCommand.Create(),
    SimCommand.Create(),
    FleetCommands.Devices(),
    FleetCommands.Models(),
    ModelCommands.Create(),
    ImageCommands.Create(),
    TrustCommands.Key(),
    TrustCommands.Attestation(),
    TrustCommands.Root(),
    FleetCommands.Deploy(),
    RolloutCommands.Create(),
    ExperimentCommands.Create(),
    FleetCommands.Train(),
    DatasetCommands.Create(),
    SweepCommands.Sweep(),
    SweepCommands.Worker(),
    SweepCommands.Trial(),
    FleetCommands.Telemetry(),
    AccessCommands.Login(),
    AccessCommands.Tokens(),
    AccessCommands.Audit(),
    AccessCommands.Enrollment(),
};

try
{
    // Long enough for the demo to stop the agents and the server it started after Ctrl-C.
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30), EnableDefaultExceptionHandler = false });
}
catch (CliException ex)
{
    await Console.Error.WriteLineAsync($"edgectl: {ex.Message}");
    return 1;
}
