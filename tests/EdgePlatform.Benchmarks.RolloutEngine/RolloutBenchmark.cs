using System.Globalization;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Host.Artifacts;
using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Host.Trust;
using EdgePlatform.ControlPlane.Leases;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Rollouts;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Benchmarks.RolloutEngine;

/// <summary>
/// One rollout over a fleet of <see cref="RolloutBenchmarkSettings.Devices"/> devices on the real
/// SQLite store: create it (10% stage published), ticks while devices report, idle ticks, the
/// tick that opens the 100% stage, idle ticks over the finished rollout, and the API reads
/// (list, and one rollout as <c>edgectl rollout status</c> asks for it). Prints one line per phase.
/// </summary>
internal static class RolloutBenchmark
{
    public static async Task<int> RunAsync(RolloutBenchmarkSettings settings, CancellationToken cancellationToken)
    {
        var directory = Directory.CreateTempSubdirectory("edgeplatform-rollout-bench-");
        try
        {
            await RunInAsync(directory.FullName, settings, cancellationToken).ConfigureAwait(false);
            return 0;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            directory.Delete(recursive: true);
        }
    }

    private static async Task RunInAsync(string dataDirectory, RolloutBenchmarkSettings settings, CancellationToken cancellationToken)
    {
        var clock = new SettableClock(new DateTimeOffset(2026, 1, 5, 8, 0, 0, TimeSpan.Zero));
        using var stores = Stores.OpenSqlite(Path.Combine(dataDirectory, "edgeplatform.db"));
        var bootstrap = ServerBootstrap.Prepare(new ServerOptions { DataDirectory = dataDirectory, HttpPort = 0, MqttPort = 0 });
        using var trust = new TufTrustPublisher(
            bootstrap, Options.Create(new TrustOptions()), stores.TrustMetadata, stores.Leases, Options.Create(new ReplicaOptions()), clock, NullLogger<TufTrustPublisher>.Instance);
        var registry = new ModelRegistry(stores.Models, new FileSystemArtifactStore(Path.Combine(dataDirectory, "blobs")), trust, clock, NullLogger<ModelRegistry>.Instance);
        var link = new CountingDeviceLink();
        using var writer = new DesiredStateWriter(stores.Devices, link, NullLogger<DesiredStateWriter>.Instance);
        using var rollouts = new RolloutService(
            registry, stores.Devices, stores.Rollouts, stores.Telemetry, writer,
            Options.Create(new EnrollmentOptions { GroupKey = bootstrap.EnrollmentKey }),
            Options.Create(new RolloutOptions()),
            clock,
            NullLogger<RolloutService>.Instance);

        var v1 = await AddModelAsync(stores, "1", clock.Now, cancellationToken).ConfigureAwait(false);
        await AddModelAsync(stores, "2", clock.Now, cancellationToken).ConfigureAwait(false);
        await AddFleetAsync(stores, settings.Devices, v1, clock.Now, cancellationToken).ConfigureAwait(false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rollout benchmark: {settings.Devices:N0} devices, {settings.Ticks} ticks per idle phase, SQLite in {dataDirectory}"));
        Console.WriteLine("phase | wall ms | CPU ms | bytes written | desired states published");

        var published = link.Published;
        var measured = new Measured();
        var created = await rollouts.CreateAsync(
            new CreateRolloutRequest("sensor:2", "site=bench", 0, [new RolloutStage(10, null, 600), new RolloutStage(100, null, 0)], new RolloutGates(MaxFailurePercent: 5)),
            "bench",
            cancellationToken).ConfigureAwait(false);
        Report("create (10% stage published)", measured.Stop(), link.Published - published);

        await ReportActiveAsync(stores, clock.Now, cancellationToken).ConfigureAwait(false);
        await PhaseAsync("tick: 10% of devices turn active", 1, rollouts, link, clock, cancellationToken).ConfigureAwait(false);
        await PhaseAsync("idle tick, stage 1 baking", settings.Ticks, rollouts, link, clock, cancellationToken).ConfigureAwait(false);

        clock.Advance(TimeSpan.FromMinutes(10));
        await PhaseAsync("tick: bake over, 100% stage published", 1, rollouts, link, clock, cancellationToken).ConfigureAwait(false);
        await ReportActiveAsync(stores, clock.Now, cancellationToken).ConfigureAwait(false);
        await PhaseAsync("tick: the other 90% turn active", 1, rollouts, link, clock, cancellationToken).ConfigureAwait(false);
        await PhaseAsync("idle tick, rollout completed", settings.Ticks, rollouts, link, clock, cancellationToken).ConfigureAwait(false);
        await ReportFailedAsync(stores, "bench-00042", clock.Now, cancellationToken).ConfigureAwait(false);
        await PhaseAsync("tick: one device reports an error", 1, rollouts, link, clock, cancellationToken).ConfigureAwait(false);

        await ApiAsync(rollouts, created.Id, settings.Ticks, cancellationToken).ConfigureAwait(false);
        var final = await rollouts.GetAsync(created.Id, cancellationToken).ConfigureAwait(false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rollout {final.Id}: {final.State}, {final.Counts!.GetValueOrDefault(RolloutDeviceStates.Active):N0} devices active"));
    }

    private static async Task PhaseAsync(string name, int ticks, RolloutService rollouts, CountingDeviceLink link, SettableClock clock, CancellationToken cancellationToken)
    {
        var published = link.Published;
        var measured = new Measured();
        for (var i = 0; i < ticks; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(5));
            await rollouts.TickAsync(cancellationToken).ConfigureAwait(false);
        }

        var (wall, cpu, written) = measured.Stop();
        Report(ticks == 1 ? name : $"{name} (mean of {ticks})", (wall / ticks, cpu / ticks, written / ticks), (link.Published - published) / ticks);
    }

    private static async Task ApiAsync(RolloutService rollouts, string id, int repeats, CancellationToken cancellationToken)
    {
        var measured = new Measured();
        long bytes = 0;
        for (var i = 0; i < repeats; i++)
        {
            bytes = JsonSerializer.SerializeToUtf8Bytes(await rollouts.ListAsync(cancellationToken).ConfigureAwait(false), ContractsJsonContext.Default.IReadOnlyListRolloutInfo).Length;
        }

        var (wall, cpu, _) = measured.Stop();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"GET /api/v1/rollouts (mean of {repeats}) | {wall / repeats:0.0} | {cpu / repeats:0.0} | response {bytes:N0} bytes |"));

        measured = new Measured();
        for (var i = 0; i < repeats; i++)
        {
            // As edgectl rollout status asks: the counts and the first ten failed devices.
            var detail = await rollouts.GetDetailAsync(id, RolloutDeviceStates.Failed, null, 10, cancellationToken).ConfigureAwait(false);
            bytes = JsonSerializer.SerializeToUtf8Bytes(detail, ContractsJsonContext.Default.RolloutDetail).Length;
        }

        (wall, cpu, _) = measured.Stop();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"GET /api/v1/rollouts/{{id}}?state=failed&limit=10 (mean of {repeats}) | {wall / repeats:0.0} | {cpu / repeats:0.0} | response {bytes:N0} bytes |"));
    }

    private static void Report(string phase, (double WallMs, double CpuMs, long Written) cost, long published) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{phase} | {cost.WallMs:0.0} | {cost.CpuMs:0.0} | {cost.Written:N0} | {published:N0}"));

    private static async Task<ModelReference> AddModelAsync(Stores stores, string version, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var digest = "sha256:" + new string(version[0], 64);
        var model = new ModelRecord("models/sensor", "sensor", version, digest, 100, "sha256:" + new string('f', 64), 10, "c2ln", new Dictionary<string, double>(), at);
        await stores.Models.AddModelAsync(model, cancellationToken).ConfigureAwait(false);
        return model.ToReference();
    }

    private static async Task AddFleetAsync(Stores stores, int count, ModelReference running, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var tags = new Dictionary<string, string>(StringComparer.Ordinal) { ["site"] = "bench" };
        for (var i = 0; i < count; i++)
        {
            var id = string.Create(CultureInfo.InvariantCulture, $"bench-{i:00000}");
            await stores.Devices.UpsertDeviceAsync(new DeviceRecord(id, tags, "thumbprint", at, DeviceStatuses.Online, at, null, null), cancellationToken).ConfigureAwait(false);
            await stores.Devices.SaveStatusAsync(id, DeviceStatuses.Online, at, cancellationToken).ConfigureAwait(false);
            await stores.Devices.SaveDesiredAsync(id, new DesiredState(1, new DeploymentSpec("dep-initial", running), TelemetrySettings.Default), 0, cancellationToken).ConfigureAwait(false);
            await stores.Devices.SaveReportedAsync(id, Reported(1, running, at), at, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Every device reports what its desired state names as active, as an agent would once installed.</summary>
    private static async Task ReportActiveAsync(Stores stores, DateTimeOffset at, CancellationToken cancellationToken)
    {
        foreach (var device in await stores.Devices.ListDevicesAsync(cancellationToken).ConfigureAwait(false))
        {
            if (device.Desired is { Deployment.Model: { } model } desired && device.Reported?.DesiredVersion != desired.Version)
            {
                await stores.Devices.SaveReportedAsync(device.Id, Reported(desired.Version, model, at), at, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task ReportFailedAsync(Stores stores, string deviceId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var device = await stores.Devices.GetDeviceAsync(deviceId, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"{deviceId} is not in the fleet");
        var reported = new ReportedState("bench", device.Desired!.Version, [], "probation failed: 30 of 40 events failed", at);
        await stores.Devices.SaveReportedAsync(deviceId, reported, at, cancellationToken).ConfigureAwait(false);
    }

    private static ReportedState Reported(long desiredVersion, ModelReference model, DateTimeOffset at) =>
        new("bench", desiredVersion, [new ModelSlotReport(ModelSlots.Primary, model.Name, model.Version, model.ManifestDigest, ModelSlotStates.Active, at)], null, at);
}
