using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgePlatform.Training.Data;

namespace EdgePlatform.Benchmarks.Profile;

/// <summary>
/// Generates a CSV of sensor-like data (16 numeric columns, 4 categorical; missing values, a
/// correlated pair, a near-constant column, heavy tails, an imbalanced label), then profiles it in
/// a child process with <see cref="DatasetProfiler"/> and with pandas (<c>read_csv</c> then
/// <c>describe(include='all')</c>), and prints time, rows per second and peak RSS side by side.
/// </summary>
internal static class ProfileBenchmark
{
    public const string ChildMode = "profile-child";
    public const string ReadOnlyMode = "read-child";
    private const string PandasPython = "/usr/bin/python3";

    // The wrapper measures from before read_csv to after describe, and its own peak RSS (Linux: KiB).
    private const string PandasScript = """
        import resource, sys, time
        import pandas
        start = time.perf_counter()
        df = pandas.read_csv(sys.argv[1])
        summary = df.describe(include='all')
        seconds = time.perf_counter() - start
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(f"RESULT rows={len(df)} seconds={seconds:.3f} cpu={usage.ru_utime + usage.ru_stime:.3f} peak_kib={usage.ru_maxrss} version={pandas.__version__}")
        """;

    public static int Run(ProfileBenchmarkSettings settings)
    {
        var directory = Directory.CreateTempSubdirectory("edgeplatform-profile-bench-");
        try
        {
            var file = settings.File ?? Path.Combine(directory.FullName, "sensors.csv");
            if (settings.File is null)
            {
                var generate = Stopwatch.StartNew();
                Generate(file, settings.Rows);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"generated {settings.Rows:N0} rows x 20 columns, {new FileInfo(file).Length / 1048576.0:N0} MiB CSV in {generate.Elapsed.TotalSeconds:N1} s"));
            }

            Console.WriteLine($"machine: {Environment.ProcessorCount} cores, load {LoadAverage()}");
            var reading = RunChild(OwnCommand(ReadOnlyMode, file));
            Console.WriteLine($"CSV reader alone: {reading.Detail}");
            var ours = RunChild(OwnCommand(ChildMode, file));
            Console.WriteLine($"edgectl profiler: {ours.Detail}");
            Result? pandas = null;
            if (settings.Pandas && PandasAvailable())
            {
                pandas = RunChild([PandasPython, "-c", PandasScript, file]);
                Console.WriteLine($"pandas: {pandas.Detail}");
            }
            else if (settings.RequirePandas)
            {
                Console.Error.WriteLine($"pandas is not importable by {PandasPython}: apt-get install python3-pandas, or pass --no-pandas");
                return 1;
            }
            else
            {
                Console.WriteLine($"pandas: skipped ({(settings.Pandas ? $"not importable by {PandasPython}" : "--no-pandas")})");
            }

            Report(reading, ours, pandas);
            var expected = settings.File is null ? settings.Rows : ours.Rows;
            if (ours.Rows != expected || (pandas is not null && pandas.Rows != ours.Rows))
            {
                Console.Error.WriteLine($"row counts differ: generated {expected:N0}, profiler {ours.Rows:N0}, pandas {pandas?.Rows.ToString("N0", CultureInfo.InvariantCulture) ?? "-"}");
                return 1;
            }

            Console.WriteLine("profiled every row");
            return 0;
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>The child: profile the file and print one RESULT line with the rows, seconds and this process's peak RSS.</summary>
    public static int ProfileInThisProcess(string file)
    {
        var watch = Stopwatch.StartNew();
        using var reader = TabularFormats.Open(file);
        var profile = DatasetProfiler.Profile(reader, file, new DatasetProfileOptions { LabelColumn = "label" });
        var seconds = watch.Elapsed.TotalSeconds;
        var peakKib = PeakKib();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT rows={profile.Rows} seconds={seconds:F3} cpu={CpuSeconds():F3} peak_kib={peakKib} duplicates={profile.DuplicateRows} warnings={profile.Warnings.Count} correlated={profile.Correlations.Count}"));
        return 0;
    }

    /// <summary>The child's baseline: the same reader, every batch read and nothing computed, so the profiler's own cost is the difference.</summary>
    public static int ReadInThisProcess(string file)
    {
        var watch = Stopwatch.StartNew();
        using var reader = TabularFormats.Open(file);
        long rows = 0;
        while (reader.ReadBatch() is { } batch)
        {
            rows += batch.RowCount;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT rows={rows} seconds={watch.Elapsed.TotalSeconds:F3} cpu={CpuSeconds():F3} peak_kib={PeakKib()}"));
        return 0;
    }

    private static double CpuSeconds()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime.TotalSeconds;
    }

    private static long PeakKib()
    {
        var peak = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(peak.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }

    private static void Report(Result reading, Result ours, Result? pandas)
    {
        Console.WriteLine();
        Console.WriteLine("| run | rows | work s | process s | CPU s | rows/s | peak RSS MiB |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        Console.WriteLine(Line("CSV reader alone (baseline, no statistics)", reading));
        Console.WriteLine(Line("edgectl dataset profile (DatasetProfiler)", ours));
        if (pandas is not null)
        {
            Console.WriteLine(Line("pandas read_csv + describe(include='all')", pandas));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ratio (pandas / ours): time {pandas.ProcessSeconds / ours.ProcessSeconds:0.00}x, CPU {pandas.CpuSeconds / ours.CpuSeconds:0.00}x, peak RSS {(double)pandas.PeakKib / ours.PeakKib:0.00}x"));
        }
    }

    private static string Line(string name, Result result) => string.Create(CultureInfo.InvariantCulture,
        $"| {name} | {result.Rows:N0} | {result.WorkSeconds:0.00} | {result.ProcessSeconds:0.00} | {result.CpuSeconds:0.00} | {result.Rows / result.ProcessSeconds:N0} | {result.PeakKib / 1024.0:N0} |");

    private static string[] OwnCommand(string mode, string file)
    {
        var assembly = typeof(ProfileBenchmark).Assembly.Location;
        var host = Environment.ProcessPath!;
        return Path.GetFileNameWithoutExtension(host) == "dotnet"
            ? [host, assembly, mode, file]
            : [host, mode, file];
    }

    private static Result RunChild(string[] command)
    {
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var seconds = watch.Elapsed.TotalSeconds;
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        if (process.ExitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"{string.Join(' ', command.Take(2))} exited {process.ExitCode}:\n{output}\n{errors.Result}");
        }

        var fields = line.Split(' ').Skip(1).Select(f => f.Split('=', 2)).ToDictionary(f => f[0], f => f[1]);
        return new Result(
            long.Parse(fields["rows"], CultureInfo.InvariantCulture),
            double.Parse(fields["seconds"], CultureInfo.InvariantCulture),
            seconds,
            double.Parse(fields["cpu"], CultureInfo.InvariantCulture),
            long.Parse(fields["peak_kib"], CultureInfo.InvariantCulture),
            line["RESULT ".Length..]);
    }

    private static bool PandasAvailable()
    {
        if (!File.Exists(PandasPython))
        {
            return false;
        }

        using var process = Process.Start(new ProcessStartInfo(PandasPython, ["-c", "import pandas"]) { RedirectStandardError = true, UseShellExecute = false })!;
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0;
    }

    private static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]);

    /// <summary>Deterministic rows (seeded), written with invariant formatting and four decimals.</summary>
    private static void Generate(string path, int rows)
    {
        string[] sites = [.. Enumerable.Range(0, 20).Select(i => $"site-{i:00}")];
        string[] statuses = ["running", "idle", "maintenance"];
        string[] models = [.. Enumerable.Range(0, 200).Select(i => $"m{i:000}")];
        var random = new Random(42);
        using var writer = new StreamWriter(path, append: false, new UTF8Encoding(false), bufferSize: 1 << 20);
        writer.Write(string.Join(',', Enumerable.Range(0, 16).Select(i => $"f{i:00}")));
        writer.Write(",site,status,model,label\n");
        Span<char> number = stackalloc char[32];
        var values = new double[16];
        for (var r = 0; r < rows; r++)
        {
            var signal = Normal(random);
            values[0] = 20 + (5 * signal);
            values[1] = (2 * values[0]) + (0.1 * Normal(random));
            values[2] = 1013 + (8 * Normal(random));
            values[3] = Math.Exp(Normal(random));
            values[4] = random.NextDouble() < 0.995 ? 0 : 1;
            values[5] = random.Next(0, 101);
            for (var c = 6; c < 16; c++)
            {
                values[c] = (c * 10) + (c * Normal(random));
            }

            for (var c = 0; c < 16; c++)
            {
                // f02 misses 5% of its values, written as an empty field.
                if (!(c == 2 && random.NextDouble() < 0.05))
                {
                    values[c].TryFormat(number, out var written, "0.####", CultureInfo.InvariantCulture);
                    writer.Write(number[..written]);
                }

                writer.Write(',');
            }

            writer.Write(sites[random.Next(sites.Length)]);
            writer.Write(',');
            writer.Write(statuses[random.Next(statuses.Length)]);
            writer.Write(',');
            writer.Write(models[random.Next(models.Length)]);
            writer.Write(',');
            writer.Write(signal > 1.5 ? "fault\n" : "ok\n");
        }
    }

    // Irwin-Hall: the sum of four uniforms, centred and scaled to unit variance; cheaper than Box-Muller and normal enough for a benchmark.
    private static double Normal(Random random) =>
        (random.NextDouble() + random.NextDouble() + random.NextDouble() + random.NextDouble() - 2) * Math.Sqrt(3);

    /// <summary>WorkSeconds: timed inside the child around the work; ProcessSeconds: the child from start to exit (runtime or interpreter start included); CpuSeconds: user + system time of the child.</summary>
    private sealed record Result(long Rows, double WorkSeconds, double ProcessSeconds, double CpuSeconds, long PeakKib, string Detail);
}
