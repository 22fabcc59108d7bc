using EdgePlatform.Benchmarks.Profile;

// Usage: dotnet run -c Release --project tests/EdgePlatform.Benchmarks.Profile -- [--rows 5000000] [--file data.csv] [--no-pandas] [--smoke]
// The parent generates the CSV and runs each profiler in a child process, so each one's peak memory is its own.
if (args is [ProfileBenchmark.ChildMode, var file])
{
    return ProfileBenchmark.ProfileInThisProcess(file);
}

if (args is [ProfileBenchmark.ReadOnlyMode, var readFile])
{
    return ProfileBenchmark.ReadInThisProcess(readFile);
}

return ProfileBenchmark.Run(ProfileBenchmarkSettings.Parse(args));
