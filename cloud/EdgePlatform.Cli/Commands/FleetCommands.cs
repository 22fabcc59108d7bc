using System.CommandLine;
using EdgePlatform.Cli.Output;
using EdgePlatform.Contracts;

namespace EdgePlatform.Cli.Commands;

/// <summary>Thin commands over the HTTP API: devices, models, deployments, training, telemetry.</summary>
public static class FleetCommands
{
    public static IReadOnlyList<Column<DeviceInfo>> DeviceColumns { get; } =
    [
        new("DEVICE", d => d.Id),
        new("STATUS", d => d.Status),
        new("ATTESTATION", d => d.Attestation?.State ?? "-") { WideOnly = true },
        new("MODEL", d => PrimarySlot(d) is { } slot ? $"{slot.Name}:{slot.Version}" : "-"),
        new("STATE", d => PrimarySlot(d)?.State ?? "-"),
        new("DESIRED", d => d.DesiredVersion.ToString(System.Globalization.CultureInfo.InvariantCulture)) { WideOnly = true },
        new("LAST SEEN", d => Render.Age(d.LastSeen)) { WideValue = d => Render.Time(d.LastSeen) },
        new("LAST ERROR", d => d.Reported?.LastError ?? "-") { WideOnly = true },
    ];

    private static ModelSlotReport? PrimarySlot(DeviceInfo device) => device.Reported?.Slots.FirstOrDefault(s => s.Slot == ModelSlots.Primary);

    public static Command Devices()
    {
        var list = new Command("list", "List enrolled devices");
        list.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var devices = await api.ListDevicesAsync(ct).ConfigureAwait(false);
            return Render.List(parse, devices, ContractsJsonContext.Default.IReadOnlyListDeviceInfo, DeviceColumns);
        });

        var deviceId = new Argument<string>("id") { Description = "Device id" };
        var show = new Command("show", "Show one device with its desired and reported state") { deviceId };
        show.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var device = await api.GetDeviceAsync(parse.GetValue(deviceId)!, ct).ConfigureAwait(false);
            if (parse.IsDocument())
            {
                Render.Document(parse.Format(), device, ContractsJsonContext.Default.DeviceInfo);
                return 0;
            }

            var slot = device.Reported?.Slots.FirstOrDefault(s => s.Slot == ModelSlots.Primary);
            var incoming = device.Reported?.Slots.FirstOrDefault(s => s.Slot == ModelSlots.Incoming);
            var health = (await api.GetTelemetryAsync(device.Id, ct).ConfigureAwait(false)).SingleOrDefault()?.Latest;
            Render.Table(
                ["FIELD", "VALUE"],
                [
                    ["id", device.Id],
                    ["status", device.Status],
                    ["tags", string.Join(", ", device.Tags.Select(t => $"{t.Key}={t.Value}"))],
                    ["enrolled", Render.Time(device.EnrolledAt)],
                    ["last seen", Render.Time(device.LastSeen)],
                    ["desired version", device.DesiredVersion.ToString(System.Globalization.CultureInfo.InvariantCulture)],
                    ["desired model", device.DesiredManifestDigest ?? "-"],
                    ["agent version", device.Reported?.AgentVersion ?? "-"],
                    ["active model", slot is null ? "-" : $"{slot.Name}:{slot.Version} ({slot.ManifestDigest})"],
                    ["incoming model", incoming is null ? "-" : $"{incoming.Name}:{incoming.Version} {incoming.State} since {Render.Time(incoming.Since)}"],
                    ["last error", device.Reported?.LastError ?? "-"],
                    ["attestation", Attestation(device.Attestation)],
                    ["health: disk free", health is null ? "-" : Disk(health)],
                    ["health: agent version", health?.AgentVersion ?? "-"],
                    ["health: attestation (device's view)", health?.AttestationState ?? "-"],
                    .. (device.Attestation?.Measurements ?? []).Select(m => (IReadOnlyList<string>)[$"  {m.Kind}", $"{m.Name} {m.Digest}"]),
                ]);
            return 0;
        });

        static string Disk(TelemetryRecord health) =>
            health.DiskTotalBytes == 0 ? "-" : $"{health.DiskFreeBytes / 1073741824.0:0.0} of {health.DiskTotalBytes / 1073741824.0:0.0} GiB";

        static string Attestation(AttestationStatus? status) => status switch
        {
            null => "not attested yet",
            { State: AttestationStates.Failed } => $"attestation failed: {status.Reason} (at {Render.Time(status.At)})",
            _ when status.ExpiresAt is { } expires => $"{status.State} at {Render.Time(status.At)}, token until {Render.Time(expires)}",
            _ => status.State,
        };

        var revokeId = new Argument<string>("id") { Description = "Device id" };
        var revoke = new Command("revoke", "Shut a device out: its credential stops working, its session is closed, it cannot enroll again") { revokeId };
        revoke.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var device = await api.RevokeDeviceAsync(parse.GetValue(revokeId)!, ct).ConfigureAwait(false);
            if (parse.IsDocument())
            {
                Render.Document(parse.Format(), device, ContractsJsonContext.Default.DeviceInfo);
            }
            else
            {
                Console.Out.WriteLine($"device {device.Id} revoked");
            }

            return 0;
        });

        var tagId = new Argument<string>("id") { Description = "Device id" };
        var tagPairs = new Argument<string[]>("tags") { Description = "The device's complete new set of tags, as key=value (none clears them)", Arity = ArgumentArity.ZeroOrMore };
        var tag = new Command("tag", "Replace a device's tags, which rollout selectors match on") { tagId, tagPairs };
        tag.SetAction(async (parse, ct) =>
        {
            var tags = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var pair in parse.GetValue(tagPairs) ?? [])
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    throw new CliException($"tag '{pair}' is not key=value");
                }

                tags[pair[..equals]] = pair[(equals + 1)..];
            }

            using var api = parse.CreateApi();
            var device = await api.SetDeviceTagsAsync(parse.GetValue(tagId)!, tags, ct).ConfigureAwait(false);
            if (parse.IsDocument())
            {
                Render.Document(parse.Format(), device, ContractsJsonContext.Default.DeviceInfo);
            }
            else
            {
                Console.Out.WriteLine($"device {device.Id}: {string.Join(", ", device.Tags.Select(t => $"{t.Key}={t.Value}"))}");
            }

            return 0;
        });

        return new Command("devices", "Enrolled devices") { list, show, tag, revoke };
    }

    public static Command Models()
    {
        var list = new Command("list", "List published model versions");
        list.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var models = await api.ListModelsAsync(ct).ConfigureAwait(false);
            return Render.List(parse, models, ContractsJsonContext.Default.IReadOnlyListModelInfo, ModelColumns);
        });
        return new Command("models", "Published model versions") { list };
    }

    public static IReadOnlyList<Column<ModelInfo>> ModelColumns { get; } =
    [
        new("MODEL", m => m.Name),
        new("VERSION", m => m.Version),
        new("MANIFEST", m => Render.ShortDigest(m.ManifestDigest)) { WideValue = m => m.ManifestDigest },
        new("AUC", m => m.Metrics.TryGetValue("auc", out var auc) ? Render.Number(auc, "0.0000") : "-"),
        new("PARITY", m => m.Metrics.TryGetValue("parityMaxAbsDiff", out var parity) ? Render.Number(parity, "0.0E+0") : "-") { WideOnly = true },
        new("CREATED", m => Render.Age(m.CreatedAt)) { WideValue = m => Render.Time(m.CreatedAt) },
    ];

    /// <summary><c>--runtime</c>, as deploy and rollout create take it.</summary>
    public static Option<string?> RuntimeOption() => new("--runtime")
    {
        Description = $"Where devices run the model: {ModelRuntimeKinds.Onnx} (in the agent, the default) or {ModelRuntimeKinds.Container} (the release's image, made by 'edgectl model containerize')",
    };

    public static Command Deploy()
    {
        var model = new Argument<string>("model") { Description = "Model as name (newest version) or name:version" };
        var devices = new Option<string[]>("--device", "-d") { Description = "Target device id (repeatable)", AllowMultipleArgumentsPerToken = true };
        var all = new Option<bool>("--all") { Description = "Target every enrolled device" };
        var runtime = RuntimeOption();
        var deploy = new Command("deploy", "Roll a model version out to devices") { model, devices, all, runtime };
        deploy.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var targets = parse.GetValue(devices) ?? [];
            var request = new CreateDeploymentRequest(parse.GetValue(model), targets.Length > 0 ? targets : null, parse.GetValue(all) ? true : null, parse.GetValue(runtime));
            var deployment = await api.DeployAsync(request, ct).ConfigureAwait(false);
            if (parse.IsDocument())
            {
                Render.Document(parse.Format(), deployment, ContractsJsonContext.Default.DeploymentInfo);
            }
            else
            {
                Console.Out.WriteLine($"deployment {deployment.Id}: {deployment.ModelName}:{deployment.ModelVersion} ({deployment.ManifestDigest}) to {string.Join(", ", deployment.Devices)}");
            }

            return 0;
        });
        return deploy;
    }

    public static Command Train()
    {
        var dataset = new Option<string>("--dataset") { Description = "Registered dataset: NAME, or NAME@VERSION of a dataset version (default: sensor-anomaly)" };
        var name = new Option<string>("--model-name") { Description = "Model name (default: the dataset's name)" };
        var trainer = new Option<string>("--trainer") { Description = "fasttree (default), lightgbm or logistic-regression" };
        var seed = new Option<int?>("--seed") { Description = "Random seed (default 42)" };
        var trees = new Option<int?>("--trees") { Description = "Trees of a fasttree or lightgbm ensemble (default 100)" };
        var leaves = new Option<int?>("--leaves") { Description = "Leaves per tree (default 20)" };
        var tolerance = new Option<double?>("--parity-tolerance") { Description = "Absolute part of the ML.NET/ONNX Runtime difference the export may show (default 1e-5)" };
        var relativeTolerance = new Option<double?>("--parity-relative-tolerance") { Description = "Part of the allowed difference that scales with the value's magnitude (default 1e-5; very large ensembles may need more)" };
        var train = new Command("train", "Train a model, export it to ONNX, check parity and publish it signed; with --local, search for the best model on this machine")
        {
            dataset, name, trainer, seed, trees, leaves, tolerance, relativeTolerance,
            TrainLocalCommand.Local, TrainLocalCommand.Spec, TrainLocalCommand.Data, TrainLocalCommand.Out, TrainLocalCommand.Parallel,
        };
        train.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(TrainLocalCommand.Local))
            {
                return await TrainLocalCommand.RunAsync(parse, ct).ConfigureAwait(false);
            }

            using var api = parse.CreateApi();
            var run = await TrainAndWaitAsync(
                api,
                new TrainingRequest(parse.GetValue(dataset), parse.GetValue(name), parse.GetValue(trainer), parse.GetValue(seed), parse.GetValue(trees), parse.GetValue(leaves), parse.GetValue(tolerance), parse.GetValue(relativeTolerance)),
                parse.IsDocument() ? null : status => Console.Error.WriteLine(status),
                ct).ConfigureAwait(false);
            if (parse.IsDocument())
            {
                Render.Document(parse.Format(), run, ContractsJsonContext.Default.TrainingRunInfo);
            }
            else
            {
                Console.Out.WriteLine($"model {run.ModelName}:{run.ModelVersion} published as {run.ManifestDigest}");
                Render.Table(["METRIC", "VALUE"], (run.Metrics ?? new Dictionary<string, double>()).Select(m => (IReadOnlyList<string>)[m.Key, Render.Number(m.Value, "0.######")]));
            }

            return 0;
        });
        return train;
    }

    public static Command Telemetry()
    {
        var device = new Option<string>("--device") { Description = "Only this device" };
        var telemetry = new Command("telemetry", "Telemetry from devices: per-device summary (default), time series, refusals, Parquet export")
        {
            device, TelemetryQuery(), TelemetryRejections(), TelemetryExport(),
        };
        telemetry.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var summaries = await api.GetTelemetryAsync(parse.GetValue(device), ct).ConfigureAwait(false);
            return Render.List(parse, summaries, ContractsJsonContext.Default.IReadOnlyListDeviceTelemetrySummary, TelemetryColumns);
        });
        return telemetry;
    }

    /// <summary>The latest report per device: by default what says whether it keeps up, the rest with <c>-o wide</c>.</summary>
    public static IReadOnlyList<Column<DeviceTelemetrySummary>> TelemetryColumns { get; } =
    [
        new("DEVICE", s => s.DeviceId),
        new("REPORTS", s => Render.Number(s.Reports)) { WideOnly = true },
        new("LAST SEQ", s => Render.Number(s.LastSequence)) { WideOnly = true },
        new("EVENTS IN", s => Render.Number(s.Latest.EventsIn)),
        new("SCORED", s => Render.Number(s.Latest.EventsScored)),
        new("DEAD-LETTERED", s => Render.Number(s.Latest.DeadLettered)) { WideOnly = true },
        new("ERRORS", s => Render.Number(s.Latest.Errors)),
        new("P50 MS", s => Render.Number(s.Latest.LatencyP50Ms)) { WideOnly = true },
        new("P99 MS", s => Render.Number(s.Latest.LatencyP99Ms)),
        new("CPU %", s => Render.Number(s.Latest.CpuPercent, "0.0")),
        new("RSS MB", s => Render.Number(s.Latest.MemoryBytes / 1048576.0, "0")) { WideOnly = true },
        new("DISK FREE GB", s => s.Latest.DiskTotalBytes == 0 ? "-" : Render.Number(s.Latest.DiskFreeBytes / 1073741824.0, "0.0")) { WideOnly = true },
        new("AGENT", s => s.Latest.AgentVersion ?? "-") { WideOnly = true },
        new("ATTESTATION", s => s.Latest.AttestationState ?? "-") { WideOnly = true },
        new("SPOOLED", s => Render.Number(s.Latest.QueueDepth)) { WideOnly = true },
        new("SHED", s => Render.Number(s.Latest.ReportsShed)) { WideOnly = true },
        new("LAST", s => Render.Age(s.LastReceived)) { WideValue = s => Render.Time(s.LastReceived) },
    ];

    private sealed record TelemetryFilterOptions(
        Option<string> Kind, Option<string> Arm, Option<string> Device, Option<string> Group, Option<string> Model, Option<string> Version, Option<string> From, Option<string> To, Option<string> Resolution, Option<int?> Limit)
    {
        public static TelemetryFilterOptions Create() => new(
            new Option<string>("--kind") { Description = "'health' (default), 'perf' (per model version and arm) or 'quality' (scores, drift, labelled outcomes)" },
            new Option<string>("--arm") { Description = "Only this experiment arm, 'control' or 'candidate' (perf and quality)" },
            new Option<string>("--device") { Description = "Only this device" },
            new Option<string>("--group") { Description = "Only devices whose 'group' tag has this value" },
            new Option<string>("--model") { Description = "Only this model name" },
            new Option<string>("--version") { Description = "Only this model version" },
            new Option<string>("--from") { Description = "Start of the time range (ISO 8601, e.g. 2026-01-01T00:00:00Z)" },
            new Option<string>("--to") { Description = "End of the time range, exclusive (ISO 8601)" },
            new Option<string>("--resolution") { Description = "'minute' rollups (default) or 'raw' reports" },
            new Option<int?>("--limit") { Description = "Most rows to return" });

        public void AddTo(Command command)
        {
            command.Add(Kind);
            command.Add(Arm);
            command.Add(Device);
            command.Add(Group);
            command.Add(Model);
            command.Add(Version);
            command.Add(From);
            command.Add(To);
            command.Add(Resolution);
            command.Add(Limit);
        }

        public Dictionary<string, string?> Read(ParseResult parse, string? defaultResolution = null) => new(StringComparer.Ordinal)
        {
            ["kind"] = parse.GetValue(Kind),
            ["arm"] = parse.GetValue(Arm),
            ["device"] = parse.GetValue(Device),
            ["group"] = parse.GetValue(Group),
            ["model"] = parse.GetValue(Model),
            ["version"] = parse.GetValue(Version),
            ["from"] = parse.GetValue(From),
            ["to"] = parse.GetValue(To),
            ["resolution"] = parse.GetValue(Resolution) ?? defaultResolution,
            ["limit"] = parse.GetValue(Limit)?.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
    }

    private static Command TelemetryQuery()
    {
        var filters = TelemetryFilterOptions.Create();
        var query = new Command("query", "Telemetry as a time series: per-minute rollups or raw reports, filtered");
        filters.AddTo(query);
        query.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var result = await api.QueryTelemetryAsync(filters.Read(parse), ct).ConfigureAwait(false);
            var format = parse.Format();
            if (format.IsDocument())
            {
                Render.Document(format, result, ContractsJsonContext.Default.TelemetryQueryResult);
            }
            else if (result.Kind == TelemetryKinds.Perf && result.Resolution == "raw")
            {
                Render.Rows(format, PerfRawColumns, result.Perf);
            }
            else if (result.Kind == TelemetryKinds.Perf)
            {
                Render.Rows(format, PerfMinuteColumns, result.PerfMinutes);
            }
            else if (result.Kind == TelemetryKinds.Quality && result.Resolution != "raw")
            {
                Render.Rows(format, QualityMinuteColumns, result.QualityMinutes);
            }
            else if (result.Kind == TelemetryKinds.Quality)
            {
                Render.Rows(format, QualityRawColumns, result.Quality);
            }
            else if (result.Resolution == "raw")
            {
                Render.Rows(format, HealthRawColumns, result.Raw);
            }
            else
            {
                Render.Rows(format, HealthMinuteColumns, result.Minutes);
            }

            return 0;
        });
        return query;
    }

    public static IReadOnlyList<Column<PerfPoint>> PerfRawColumns { get; } =
    [
        new("TIME", p => Render.ShortTime(p.Record.Timestamp)) { WideValue = p => Render.Time(p.Record.Timestamp) },
        new("DEVICE", p => p.DeviceId),
        new("SEQ", p => Render.Number(p.Record.Sequence)) { WideOnly = true },
        new("MODEL", p => $"{p.Record.ModelName}:{p.Record.ModelVersion}") { WideOnly = true },
        new("ARM", p => p.Record.Arm),
        new("EVENTS IN", p => Render.Number(p.Record.EventsIn)),
        new("SCORED", p => Render.Number(p.Record.EventsScored)) { WideOnly = true },
        new("ERRORS", p => Render.Number(p.Record.Errors)),
        new("DEAD-LETTERED", p => Render.Number(p.Record.DeadLettered)) { WideOnly = true },
        new("DROPPED", p => Render.Number(p.Record.Dropped)) { WideOnly = true },
        new("P50 MS", p => Render.Number(p.Record.LatencyP50Ms)) { WideOnly = true },
        new("P95 MS", p => Render.Number(p.Record.LatencyP95Ms)) { WideOnly = true },
        new("P99 MS", p => Render.Number(p.Record.LatencyP99Ms)),
        new("MAX MS", p => Render.Number(p.Record.LatencyMaxMs)) { WideOnly = true },
        new("BATCHES", p => Render.Number(p.Record.Batches)) { WideOnly = true },
        new("MEAN BATCH", p => Render.Number(p.Record.BatchSizeMean, "0.0")) { WideOnly = true },
    ];

    public static IReadOnlyList<Column<PerfMinute>> PerfMinuteColumns { get; } =
    [
        new("MINUTE", m => Render.ShortMinute(m.Minute)) { WideValue = m => Render.Time(m.Minute) },
        new("MODEL", m => $"{m.ModelName}:{m.ModelVersion}"),
        new("ARM", m => m.Arm),
        new("DEVICES", m => Render.Number(m.Devices)) { WideOnly = true },
        new("EVENTS IN", m => Render.Number(m.EventsIn)),
        new("SCORED", m => Render.Number(m.EventsScored)) { WideOnly = true },
        new("ERRORS", m => Render.Number(m.Errors)),
        new("DEAD-LETTERED", m => Render.Number(m.DeadLettered)) { WideOnly = true },
        new("DROPPED", m => Render.Number(m.Dropped)) { WideOnly = true },
        new("P50 MS", m => Render.Number(m.LatencyP50Ms)) { WideOnly = true },
        new("P95 MS", m => Render.Number(m.LatencyP95Ms)) { WideOnly = true },
        new("P99 MS", m => Render.Number(m.LatencyP99Ms)),
        new("MAX MS", m => Render.Number(m.LatencyMaxMs)) { WideOnly = true },
    ];

    public static IReadOnlyList<Column<QualityMinute>> QualityMinuteColumns { get; } =
    [
        new("MINUTE", m => Render.ShortMinute(m.Minute)) { WideValue = m => Render.Time(m.Minute) },
        new("MODEL", m => $"{m.ModelName}:{m.ModelVersion}"),
        new("ARM", m => m.Arm),
        new("DEVICES", m => Render.Number(m.Devices)) { WideOnly = true },
        new("SCORES", m => Render.Number(m.Scores)) { WideOnly = true },
        new("SCORE MEAN", m => Render.Number(m.ScoreMean, "0.000")),
        new("PSI MAX", m => m.DriftPsiMax is { } psi ? Render.Number(psi, "0.000") : "-"),
        new("FEATURES (MEAN ± SD)", m => string.Join(", ", m.Features.Select(f => $"{f.Name} {Render.Number(f.Mean, "0.##")}±{Render.Number(Math.Sqrt(f.Variance), "0.##")}"))) { WideOnly = true },
        new("LABELLED", m => Render.Number(m.Labelled)) { WideOnly = true },
        new("ACCURACY", m => Accuracy(m.Labelled, m.TruePositives + m.TrueNegatives)),
    ];

    public static IReadOnlyList<Column<QualityPoint>> QualityRawColumns { get; } =
    [
        new("TIME", p => Render.ShortTime(p.Record.Timestamp)) { WideValue = p => Render.Time(p.Record.Timestamp) },
        new("DEVICE", p => p.DeviceId),
        new("SEQ", p => Render.Number(p.Record.Sequence)) { WideOnly = true },
        new("MODEL", p => $"{p.Record.ModelName}:{p.Record.ModelVersion}") { WideOnly = true },
        new("ARM", p => p.Record.Arm),
        new("SCORES", p => Render.Number(p.Record.Scores)) { WideOnly = true },
        new("SCORE MEAN", p => Render.Number(p.Record.ScoreMean, "0.000")),
        new("PSI MAX", p => p.Record.DriftPsiMax is { } psi ? Render.Number(psi, "0.000") : "-"),
        new("DRIFTING FEATURE", p => MostDrifting(p.Record)) { WideOnly = true },
        new("LABELLED", p => Render.Number(p.Record.Labelled)) { WideOnly = true },
        new("ACCURACY", p => Accuracy(p.Record.Labelled, p.Record.TruePositives + p.Record.TrueNegatives)),
    ];

    public static IReadOnlyList<Column<TelemetryPoint>> HealthRawColumns { get; } =
    [
        new("TIME", p => Render.ShortTime(p.Record.Timestamp)) { WideValue = p => Render.Time(p.Record.Timestamp) },
        new("DEVICE", p => p.DeviceId),
        new("SEQ", p => Render.Number(p.Record.Sequence)) { WideOnly = true },
        new("MODEL", p => $"{p.Record.ModelName ?? "-"}:{p.Record.ModelVersion ?? "-"}") { WideOnly = true },
        new("EVENTS IN", p => Render.Number(p.Record.EventsIn)),
        new("SCORED", p => Render.Number(p.Record.EventsScored)) { WideOnly = true },
        new("ERRORS", p => Render.Number(p.Record.Errors)),
        new("DEAD-LETTERED", p => Render.Number(p.Record.DeadLettered)) { WideOnly = true },
        new("P50 MS", p => Render.Number(p.Record.LatencyP50Ms)) { WideOnly = true },
        new("P95 MS", p => Render.Number(p.Record.LatencyP95Ms)) { WideOnly = true },
        new("P99 MS", p => Render.Number(p.Record.LatencyP99Ms)),
        new("MAX MS", p => Render.Number(p.Record.LatencyMaxMs)) { WideOnly = true },
        new("SPOOLED", p => Render.Number(p.Record.QueueDepth)),
        new("SHED", p => Render.Number(p.Record.ReportsShed)) { WideOnly = true },
    ];

    public static IReadOnlyList<Column<TelemetryMinute>> HealthMinuteColumns { get; } =
    [
        new("MINUTE", m => Render.ShortMinute(m.Minute)) { WideValue = m => Render.Time(m.Minute) },
        new("DEVICE", m => m.DeviceId),

        // A device has a row per model version within a minute; without the model two rows would look alike.
        new("MODEL", m => $"{m.ModelName ?? "-"}:{m.ModelVersion ?? "-"}"),
        new("REPORTS", m => Render.Number(m.Reports)) { WideOnly = true },
        new("EVENTS IN", m => Render.Number(m.EventsIn)),
        new("SCORED", m => Render.Number(m.EventsScored)) { WideOnly = true },
        new("ERRORS", m => Render.Number(m.Errors)),
        new("DEAD-LETTERED", m => Render.Number(m.DeadLettered)) { WideOnly = true },
        new("P99 MS (MAX)", m => Render.Number(m.LatencyP99MsMax)) { WideOnly = true },
        new("MAX MS", m => Render.Number(m.LatencyMaxMs)) { WideOnly = true },
        new("CPU %", m => Render.Number(m.CpuPercentAvg, "0.0")) { WideOnly = true },
        new("SHED", m => Render.Number(m.ReportsShedMax)) { WideOnly = true },
    ];

    private static string Accuracy(long labelled, long correct) =>
        labelled == 0 ? "-" : Render.Number((double)correct / labelled, "0.000");

    /// <summary>The feature with the highest PSI, or "-" when none has one.</summary>
    private static string MostDrifting(QualityRecord record)
    {
        var worst = record.FeaturePsi
            .Select((psi, i) => (Psi: psi, Name: i < record.FeatureNames.Count ? record.FeatureNames[i] : "?"))
            .Where(f => f.Psi is not null)
            .OrderByDescending(f => f.Psi)
            .FirstOrDefault();
        return worst.Psi is null ? "-" : worst.Name;
    }

    private static Command TelemetryRejections()
    {
        var rejections = new Command("rejections", "Telemetry the control plane refused, per device and reason, with ingest counters");
        rejections.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var stats = await api.GetTelemetryIngestAsync(ct).ConfigureAwait(false);
            var format = parse.Format();
            if (format.IsDocument())
            {
                Render.Document(format, stats, ContractsJsonContext.Default.TelemetryIngestStats);
                return 0;
            }

            Console.Out.WriteLine($"since start: {Render.Number(stats.Accepted)} report(s) accepted, {Render.Number(stats.Replayed)} replayed, {Render.Number(stats.Rejected)} message(s) rejected");
            Render.Rows(format, RejectionColumns, stats.Rejections);
            return 0;
        });
        return rejections;
    }

    public static IReadOnlyList<Column<TelemetryRejectionCount>> RejectionColumns { get; } =
    [
        new("DEVICE", r => r.DeviceId),
        new("REASON", r => r.Reason),
        new("COUNT", r => Render.Number(r.Count)),
        new("LAST", r => Render.Age(r.LastAt)) { WideValue = r => Render.Time(r.LastAt) },
        new("LAST DETAIL", r => r.LastDetail),
    ];

    private static Command TelemetryExport()
    {
        var filters = TelemetryFilterOptions.Create();
        var format = new Option<string>("--format") { Description = "Output format (parquet)", DefaultValueFactory = _ => "parquet" };
        var file = new Option<string>("--file", "-f") { Description = "File to write", Required = true };
        var export = new Command("export", "Write telemetry to a file for analysis (raw reports unless --resolution minute)") { format, file };
        filters.AddTo(export);
        export.SetAction(async (parse, ct) =>
        {
            if (!string.Equals(parse.GetValue(format), "parquet", StringComparison.Ordinal))
            {
                throw new CliException($"--format: '{parse.GetValue(format)}' is not supported; use 'parquet'");
            }

            using var api = parse.CreateApi();
            var query = filters.Read(parse, defaultResolution: "raw");
            query["format"] = "parquet";
            var bytes = await api.ExportTelemetryAsync(query, ct).ConfigureAwait(false);
            var path = parse.GetValue(file)!;
            await File.WriteAllBytesAsync(path, bytes, ct).ConfigureAwait(false);
            Console.Out.WriteLine($"wrote {Render.Number(bytes.Length)} bytes to {path}");
            return 0;
        });
        return export;
    }

    /// <summary>Starts a training run and polls it until it succeeds (or throws with the run's error).</summary>
    public static async Task<TrainingRunInfo> TrainAndWaitAsync(ApiClient api, TrainingRequest request, Action<string>? progress, CancellationToken ct)
    {
        var run = await api.StartTrainingAsync(request, ct).ConfigureAwait(false);
        progress?.Invoke($"training run {run.Id}: {run.Trainer} on {run.Dataset} → {run.ModelName}:{run.ModelVersion}");
        while (run.Status == TrainingRunStatuses.Running)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500), ct).ConfigureAwait(false);
            run = await api.GetTrainingRunAsync(run.Id, ct).ConfigureAwait(false);
        }

        return run.Status == TrainingRunStatuses.Succeeded
            ? run
            : throw new CliException($"training run {run.Id} failed: {run.Error}");
    }
}
