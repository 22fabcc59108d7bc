using System.Security.Cryptography;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Deployments;

/// <summary>
/// Points devices at a model version: writes each target's next desired state and publishes it
/// retained on the device link, so devices offline now converge when they return.
/// </summary>
public sealed partial class DeploymentService(
    ModelRegistry registry,
    IDeviceStore devices,
    IDeploymentStore deployments,
    DesiredStateWriter writer,
    IOptions<EnrollmentOptions> options,
    TimeProvider timeProvider,
    ILogger<DeploymentService> logger)
{
    public async Task<DeploymentInfo> CreateAsync(CreateDeploymentRequest? request, CancellationToken cancellationToken)
    {
        if (request is null)
        {
            throw new RequestValidationException("body", "expected a JSON object with model and devices or allDevices");
        }

        if (string.IsNullOrWhiteSpace(request.Model))
        {
            throw new RequestValidationException("model", "is required, as a model name or name:version");
        }

        var explicitTargets = request.Devices is { Count: > 0 };
        if (explicitTargets == (request.AllDevices == true))
        {
            throw new RequestValidationException("devices", "give either a non-empty devices list or allDevices: true");
        }

        var runtime = ModelRuntimes.Parse(request.Runtime, "runtime");
        var model = await registry.ResolveAsync(request.Model.Trim(), cancellationToken).ConfigureAwait(false);
        var targets = explicitTargets
            ? await ResolveDevicesAsync(request.Devices!, cancellationToken).ConfigureAwait(false)
            : await devices.ListDevicesAsync(cancellationToken).ConfigureAwait(false);
        if (targets.Count == 0)
        {
            throw new RequestValidationException("allDevices", "no device is enrolled yet");
        }

        // A device that failed attestation (or was revoked) gets no new deployment until it
        // attests again; the caller is told which and why.
        var skipped = targets.Where(t => t.DeploymentRefusal is not null).Select(t => $"{t.Id}: {t.DeploymentRefusal}").ToList();
        targets = [.. targets.Where(t => t.DeploymentRefusal is null)];
        if (targets.Count == 0)
        {
            throw new ConflictException($"no target device can receive a deployment: {string.Join("; ", skipped)}");
        }

        var now = timeProvider.GetUtcNow();
        var deploymentId = $"dep-{now:yyyyMMddHHmmss}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        var spec = new DeploymentSpec(deploymentId, model.ToReference(runtime));

        var telemetry = new TelemetrySettings(options.Value.TelemetryIntervalSeconds);
        await writer.WriteManyAsync([.. targets.Select(t => new DesiredWrite(t, spec))], telemetry, cancellationToken).ConfigureAwait(false);

        var info = new DeploymentInfo(deploymentId, model.Name, model.Version, model.ManifestDigest, [.. targets.Select(t => t.Id)], now);
        await deployments.AddDeploymentAsync(info, cancellationToken).ConfigureAwait(false);
        LogDeployed(deploymentId, model.Name, model.Version, targets.Count, skipped.Count);
        return skipped.Count == 0 ? info : info with { Skipped = skipped };
    }

    public Task<IReadOnlyList<DeploymentInfo>> ListAsync(CancellationToken cancellationToken) =>
        deployments.ListDeploymentsAsync(cancellationToken);

    private async Task<IReadOnlyList<DeviceRecord>> ResolveDevicesAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        var result = new List<DeviceRecord>(ids.Count);
        foreach (var id in ids.Distinct(StringComparer.Ordinal))
        {
            if (DeviceIds.Describe(id) is { } problem)
            {
                throw new RequestValidationException("devices", $"device id '{id}' {problem}");
            }

            result.Add(await devices.GetDeviceAsync(id, cancellationToken).ConfigureAwait(false)
                ?? throw new NotFoundException($"device '{id}' is not enrolled"));
        }

        return result;
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Deployment {DeploymentId}: model {Name} version {Version} to {Count} device(s), {Skipped} skipped")]
    private partial void LogDeployed(string deploymentId, string name, string version, int count, int skipped);
}
