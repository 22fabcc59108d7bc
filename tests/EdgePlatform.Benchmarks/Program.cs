using EdgePlatform.Benchmarks;

// dotnet run -c Release --project tests/EdgePlatform.Benchmarks -- inference|telemetry-cost|container [--seconds N] [--out FILE] [--smoke]
if (args is ["agent-host", var card, var model, .. var settings])
{
    return await AgentHostMode.RunAsync(card, model, settings);
}

if (args is ["telemetry-cost", ..])
{
    return await TelemetryCostBenchmark.RunAsync(HarnessOptions.Parse(args[1..]));
}

if (args is ["container", ..])
{
    return await ContainerBenchmark.RunAsync(HarnessOptions.Parse(args[1..]));
}

if (args is not ["inference", ..])
{
    await Console.Error.WriteLineAsync($"usage: EdgePlatform.Benchmarks inference|telemetry-cost|container {HarnessOptions.Usage}");
    return 2;
}

var options = HarnessOptions.Parse(args[1..]);
return await InferenceBenchmark.RunAsync(options);
