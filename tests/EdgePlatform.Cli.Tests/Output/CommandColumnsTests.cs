using EdgePlatform.Cli.Commands;
using EdgePlatform.Cli.Output;
using EdgePlatform.Contracts;

namespace EdgePlatform.Cli.Tests.Output;

/// <summary>The default view of list commands, with values like a real fleet's, fits an 80-column terminal.</summary>
public sealed class CommandColumnsTests
{
    private const int TerminalWidth = 80;
    private static readonly DateTimeOffset Recently = TimeProvider.System.GetUtcNow().AddMinutes(-3);

    internal static DeviceInfo Device(string id) => new(
        id,
        new Dictionary<string, string> { ["site"] = "berlin" },
        "online",
        Recently.AddDays(-3),
        Recently,
        12,
        "sha256:" + new string('a', 64),
        new ReportedState("0.9.0", 12, [new ModelSlotReport(ModelSlots.Primary, "sensor-anomaly", "12", "sha256:" + new string('a', 64), "active", Recently)], "download of sha256:aaaa failed: connection reset by peer", Recently),
        new AttestationStatus(AttestationStates.Verified, null, Recently, Recently.AddHours(1), null));

    internal static DeviceTelemetrySummary Telemetry(string id) => new(
        id,
        123456,
        123456,
        Recently,
        new TelemetryRecord(123456, Recently, "sensor-anomaly", "12", "sha256:" + new string('a', 64), 1234567, 1234560, 12345, 7, 1.234, 12.345, 99.5, 87.5, 123 * 1048576, QueueDepth: 42, ReportsShed: 3, DiskFreeBytes: 10L << 30, DiskTotalBytes: 32L << 30, AgentVersion: "0.9.0+abcdef12", AttestationState: AttestationStates.Verified));

    internal static ModelInfo Model(string name) => new(
        $"models/{name}", name, "12", "sha256:" + new string('b', 64), 1234, "sha256:" + new string('c', 64), 123456, "c2ln", new Dictionary<string, double> { ["auc"] = 0.98765, ["parityMaxAbsDiff"] = 1.2e-6 }, Recently);

    private static readonly string[] DeviceIds = ["sensor-berlin-0001", "pi5-munich-17", "dev-1"];

    [Fact]
    public void DeviceColumns_Default_FitEightyColumns() => AssertFits(FleetCommands.DeviceColumns, DeviceIds.Select(Device));

    [Fact]
    public void TelemetryColumns_Default_FitEightyColumns() => AssertFits(FleetCommands.TelemetryColumns, DeviceIds.Select(Telemetry));

    [Fact]
    public void ModelColumns_Default_FitEightyColumns() => AssertFits(FleetCommands.ModelColumns, [Model("sensor-anomaly"), Model("vibration-anomaly-fasttree")]);

    [Fact]
    public void HealthMinuteColumns_Default_FitEightyColumnsAndTellModelVersionsApart()
    {
        TelemetryMinute Minute(string device, string? model) =>
            new(device, Recently, model, model is null ? null : "12", 16, 123456, 123450, 12, 3, 1.5, 277.129, 512.25, 5.3, 150 << 20, 0, 0, 99);
        var minutes = DeviceIds.SelectMany(id => new[] { Minute(id, null), Minute(id, "sensor-anomaly") }).ToList();

        AssertFits(FleetCommands.HealthMinuteColumns, minutes);
        var rows = Lines(FleetCommands.HealthMinuteColumns, minutes, wide: false).Skip(1).ToList();
        Assert.Equal(rows.Count, rows.Distinct().Count());
    }

    [Fact]
    public void TelemetryColumns_Wide_ShowEveryColumnAndFullTimes()
    {
        var lines = Lines(FleetCommands.TelemetryColumns, [Telemetry("dev-1")], wide: true);

        Assert.Equal(FleetCommands.TelemetryColumns.Select(c => c.Header), Headers(lines[0], FleetCommands.TelemetryColumns));
        Assert.Equal(17, FleetCommands.TelemetryColumns.Count);
        Assert.Contains(Render.Time(Recently), lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public void ModelColumns_Wide_ShowTheWholeDigest()
    {
        var model = Model("sensor-anomaly");

        Assert.Contains(model.ManifestDigest, Lines(FleetCommands.ModelColumns, [model], wide: true)[1], StringComparison.Ordinal);
        Assert.DoesNotContain(model.ManifestDigest, Lines(FleetCommands.ModelColumns, [model], wide: false)[1], StringComparison.Ordinal);
    }

    [Fact]
    public void DeviceColumns_Default_KeepTheColumnsThatSayWhetherADeviceIsHealthy()
    {
        var headers = Headers(Lines(FleetCommands.DeviceColumns, [Device("dev-1")], wide: false)[0], FleetCommands.DeviceColumns);

        Assert.Equal(["DEVICE", "STATUS", "MODEL", "STATE", "LAST SEEN"], headers);
    }

    private static void AssertFits<T>(IReadOnlyList<Column<T>> columns, IEnumerable<T> rows)
    {
        var lines = Lines(columns, rows, wide: false);
        Assert.All(lines, line => Assert.True(line.Length <= TerminalWidth, $"{line.Length} columns: {line}"));
        Assert.True(Lines(columns, rows, wide: true)[0].Length >= lines[0].Length);
    }

    private static string[] Lines<T>(IReadOnlyList<Column<T>> columns, IEnumerable<T> rows, bool wide) =>
        TableWriter.Format(columns, rows, wide).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    // Headers can hold single spaces ("LAST SEEN"); columns are three apart.
    private static List<string> Headers<T>(string line, IReadOnlyList<Column<T>> columns) =>
        [.. line.Split(TableWriter.Separator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(h => columns.Any(c => c.Header == h))];
}
