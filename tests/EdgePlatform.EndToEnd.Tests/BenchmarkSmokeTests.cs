namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// Every benchmark program, as built with the suite, run in its smoke mode: tiny sizes through the
/// same code paths. A benchmark that no longer starts, or whose report says a phase failed,
/// fails here rather than on the day someone needs its figures.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class BenchmarkSmokeTests
{
    // Each smoke run takes seconds on two cores; the deadline leaves room for a busy machine.
    private static readonly TimeSpan Deadline = TimeSpan.FromMinutes(3);

    [Theory]
    [InlineData("EdgePlatform.Benchmarks", "inference --smoke", "every phase answered every event")]
    [InlineData("EdgePlatform.Benchmarks", "telemetry-cost --smoke", "every configuration scored every event")]
    [InlineData("EdgePlatform.Benchmarks", "container --smoke", "every event scored through the container and in-process")]
    [InlineData("EdgePlatform.Benchmarks.Telemetry", "--smoke", "every published report stored exactly once")]
    [InlineData("EdgePlatform.Benchmarks.Telemetry", "metrics-cost --smoke", "/metrics cost per perf report")]
    [InlineData("EdgePlatform.Benchmarks.RolloutEngine", "--smoke", "devices active")]
    [InlineData("EdgePlatform.Benchmarks.RolloutFleet", "--smoke", "| devices |")]
    [InlineData("EdgePlatform.Benchmarks.Profile", "--smoke", "profiled every row")]
    [InlineData("EdgePlatform.Benchmarks.SweepQuality", "--smoke", "every search beat the trivial model on every dataset")]
    [InlineData("EdgePlatform.Benchmarks.SweepWorkers", "--smoke", "speedup with 2 workers")]
    [InlineData("EdgePlatform.Benchmarks.Experiments", "--smoke", "every statistical property held")]
    [InlineData("EdgePlatform.Benchmarks.ScaleOut", "--smoke", "every published report stored exactly once (counted in PostgreSQL)")]
    [InlineData("EdgePlatform.Benchmarks.Console", "--smoke", "fleet pages served: every one of")]
    public async Task Benchmark_InSmokeMode_ExitsZeroWithItsReport(string project, string arguments, string reportLine)
    {
        var (exitCode, output) = await BuiltProgram.RunAsync(AssemblyOf(project), arguments.Split(' '), Deadline);

        Assert.True(exitCode == 0, $"{project} {arguments} exited {exitCode}:\n{output}");
        Assert.True(output.Contains(reportLine, StringComparison.Ordinal), $"{project} {arguments} printed no '{reportLine}':\n{output}");
    }

    /// <summary>
    /// The benchmark's own build output, beside this project's: tests/{project}/bin/{configuration}/{framework}/,
    /// with the configuration and framework this test project was built with.
    /// </summary>
    private static string AssemblyOf(string project)
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = output.Parent!;
        var tests = configuration.Parent!.Parent!.Parent!;
        var assembly = Path.Combine(tests.FullName, project, "bin", configuration.Name, output.Name, project + ".dll");
        Assert.True(File.Exists(assembly), $"{assembly} is not built: build the solution first (tests/run.sh does)");
        return assembly;
    }
}
