using System.CommandLine;
using EdgePlatform.Contracts;

namespace EdgePlatform.Cli.Commands;

/// <summary>Thin commands over the HTTP API: devices, models, deployments, training, telemetry.</summary>
public static class FleetCommands
{
    public static Command Devices()
    {
        var list = new Command("list", "List enrolled devices");
        list.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var devices = await api.ListDevicesAsync(ct).ConfigureAwait(false);
            if (parse.IsJson())
            {
                Render.Json(devices, ContractsJsonContext.Default.IReadOnlyListDeviceInfo);
                return 0;
            }

            Render.Table(
                ["DEVICE", "STATUS", "ATTESTATION", "MODEL", "STATE", "DESIRED", "LAST ERROR", "LAST SEEN"],
                devices.Select(d =>
                {
                    var slot = d.Reported is { Slots.Count: > 0 } r ? r.Slots[0] : null;
                    return (IReadOnlyList<string>)
                    [
                        d.Id, d.Status, d.Attestation?.State ?? "-", slot is null ? "-" : $"{slot.Name}:{slot.Version}", slot?.State ?? "-",
                        d.DesiredVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), d.Reported?.LastError ?? "-", Render.Time(d.LastSeen),
                    ];
                }));
            return 0;
        });

        var deviceId = new Argument<string>("id") { Description = "Device id" };
        var show = new Command("show", "Show one device with its desired and reported state") { deviceId };
        show.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var device = await api.GetDeviceAsync(parse.GetValue(deviceId)!, ct).ConfigureAwait(false);
            if (parse.IsJson())
            {
                Render.Json(device, ContractsJsonContext.Default.DeviceInfo);
                return 0;
            }

            var slot = device.Reported is { Slots.Count: > 0 } r ? r.Slots[0] : null;
            Render.Table(
                ["FIELD", "VALUE"],
                [
                    ["id", device.Id],
                    ["status", device.Status],
                    ["tags", string.Join(", ", device.Tags.Select(t => $"{t.Key}={t.Value}"))],
                    ["enrolled", Render.Time(device.EnrolledAt)],
                    ["last seen", Render.Time(device.LastSeen)],
                    ["desired version", device.DesiredVersion.ToString(System.Globalization.CultureInfo.InvariantCulture)],
                    ["desired model", device.DesiredModelDigest ?? "-"],
                    ["agent version", device.Reported?.AgentVersion ?? "-"],
                    ["active model", slot is null ? "-" : $"{slot.Name}:{slot.Version} ({slot.ManifestDigest})"],
                    ["last error", device.Reported?.LastError ?? "-"],
                    ["attestation", Attestation(device.Attestation)],
                    .. (device.Attestation?.Measurements ?? []).Select(m => (IReadOnlyList<string>)[$"  {m.Kind}", $"{m.Name} {m.Digest}"]),
                ]);
            return 0;
        });

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
            if (parse.IsJson())
            {
                Render.Json(device, ContractsJsonContext.Default.DeviceInfo);
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
            if (parse.IsJson())
            {
                Render.Json(device, ContractsJsonContext.Default.DeviceInfo);
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
            if (parse.IsJson())
            {
                Render.Json(models, ContractsJsonContext.Default.IReadOnlyListModelInfo);
                return 0;
            }

            Render.Table(
                ["MODEL", "VERSION", "MANIFEST", "AUC", "PARITY", "CREATED"],
                models.Select(m => (IReadOnlyList<string>)
                [
                    m.Name, m.Version, Render.ShortDigest(m.ManifestDigest),
                    m.Metrics.TryGetValue("auc", out var auc) ? Render.Number(auc, "0.0000") : "-",
                    m.Metrics.TryGetValue("parityMaxAbsDiff", out var parity) ? Render.Number(parity, "0.0E+0") : "-",
                    Render.Time(m.CreatedAt),
                ]));
            return 0;
        });
        return new Command("models", "Published model versions") { list };
    }

    public static Command Deploy()
    {
        var model = new Argument<string>("model") { Description = "Model as name (newest version) or name:version" };
        var devices = new Option<string[]>("--device", "-d") { Description = "Target device id (repeatable)", AllowMultipleArgumentsPerToken = true };
        var all = new Option<bool>("--all") { Description = "Target every enrolled device" };
        var deploy = new Command("deploy", "Roll a model version out to devices") { model, devices, all };
        deploy.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var targets = parse.GetValue(devices) ?? [];
            var request = new CreateDeploymentRequest(parse.GetValue(model), targets.Length > 0 ? targets : null, parse.GetValue(all) ? true : null);
            var deployment = await api.DeployAsync(request, ct).ConfigureAwait(false);
            if (parse.IsJson())
            {
                Render.Json(deployment, ContractsJsonContext.Default.DeploymentInfo);
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
        var dataset = new Option<string>("--dataset") { Description = "Registered dataset (default: sensor-anomaly)" };
        var name = new Option<string>("--model-name") { Description = "Model name (default: the dataset's name)" };
        var trainer = new Option<string>("--trainer") { Description = "fasttree (default), lightgbm or logistic-regression" };
        var seed = new Option<int?>("--seed") { Description = "Random seed (default 42)" };
        var train = new Command("train", "Train a model, export it to ONNX, check parity and publish it signed") { dataset, name, trainer, seed };
        train.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var run = await TrainAndWaitAsync(
                api,
                new TrainingRequest(parse.GetValue(dataset), parse.GetValue(name), parse.GetValue(trainer), parse.GetValue(seed)),
                parse.IsJson() ? null : status => Console.Error.WriteLine(status),
                ct).ConfigureAwait(false);
            if (parse.IsJson())
            {
                Render.Json(run, ContractsJsonContext.Default.TrainingRunInfo);
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
        var telemetry = new Command("telemetry", "Telemetry received from devices") { device };
        telemetry.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var summaries = await api.GetTelemetryAsync(parse.GetValue(device), ct).ConfigureAwait(false);
            if (parse.IsJson())
            {
                Render.Json(summaries, ContractsJsonContext.Default.IReadOnlyListDeviceTelemetrySummary);
                return 0;
            }

            Render.Table(
                ["DEVICE", "REPORTS", "LAST SEQ", "EVENTS IN", "SCORED", "DEAD-LETTERED", "ERRORS", "P50 MS", "P99 MS", "CPU %", "RSS MB", "LAST"],
                summaries.Select(s => (IReadOnlyList<string>)
                [
                    s.DeviceId, Render.Number(s.Reports), Render.Number(s.LastSequence), Render.Number(s.Latest.EventsIn), Render.Number(s.Latest.EventsScored),
                    Render.Number(s.Latest.DeadLettered), Render.Number(s.Latest.Errors), Render.Number(s.Latest.LatencyP50Ms), Render.Number(s.Latest.LatencyP99Ms),
                    Render.Number(s.Latest.CpuPercent, "0.0"), Render.Number(s.Latest.MemoryBytes / 1048576.0, "0"), Render.Time(s.LastReceived),
                ]));
            return 0;
        });
        return telemetry;
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
