using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Reconciliation;
using EdgePlatform.Contracts;
using EdgePlatform.Resilience;
using EdgePlatform.Security.Attestation;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Core.Identity;

/// <summary>
/// Proves the device's state to the control plane and holds the resulting short-lived
/// attestation token: fetches a nonce, measures the agent build, its configuration and the
/// installed models, signs the evidence with the device key, and re-attests when two thirds of
/// the token's life have passed (or at once when a caller finds the token near its end).
/// </summary>
public sealed partial class AttestationClient(
    DeviceIdentityProvider identity,
    IModelStore models,
    AgentStateStore state,
    IOptions<AgentOptions> options,
    IHttpClientFactory httpClients,
    TimeProvider timeProvider,
    ILogger<AttestationClient> logger,
    AgentBuildMeasurement? build = null) : BackgroundService
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _pauseLock = new();
    private readonly SemaphoreSlim _renewalRequested = new(0, 1);
    private readonly AgentBuildMeasurement _build = build ?? new AgentBuildMeasurement(options.Value.MeasuredBuildDirectory);
    private AttestationResult? _current;
    private DateTimeOffset _issuedAt;

    // Cancels the pause after a failed attestation when a renewal is requested meanwhile (never
    // an attestation in progress: that one already measures what changed or is followed by another).
    private CancellationTokenSource? _pause;
    private bool _pausing;

    /// <summary>Why the last attestation failed, or null after a success.</summary>
    public string? LastFailure { get; private set; }

    /// <summary>
    /// The device's own view of its attestation (<see cref="AttestationStates"/>): verified while it
    /// holds an unexpired token, failed when the last attempt was refused, expired when its token
    /// lapsed without renewal, pending before the first answer and while re-attesting after a change.
    /// </summary>
    public string State => (_current, LastFailure) switch
    {
        (_, not null) => AttestationStates.Failed,
        ({ } current, _) when current.ExpiresAt > timeProvider.GetUtcNow() => AttestationStates.Verified,
        ({ }, _) => AttestationStates.Expired,
        _ => AttestationStates.Pending,
    };

    /// <summary>A token with at least a third of its life left, attesting first when needed.</summary>
    public async ValueTask<string> GetTokenAsync(CancellationToken cancellationToken)
    {
        if (_current is { } current && !NeedsRenewal(current))
        {
            return current.Token;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_current is { } again && !NeedsRenewal(again))
            {
                return again.Token;
            }

            return (await AttestAsync(cancellationToken).ConfigureAwait(false)).Token;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Attest again soon, because what is measured changed (a model was installed or removed):
    /// the control plane's record of this device should show what it runs now.
    /// </summary>
    public void RequestRenewal()
    {
        _current = null;
        CancellationTokenSource? pause;
        lock (_pauseLock)
        {
            pause = _pausing ? _pause : null;
        }

        try
        {
            pause?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The pause ended meanwhile; the semaphore below wakes the loop instead.
        }

        try
        {
            _renewalRequested.Release();
        }
        catch (SemaphoreFullException)
        {
            // A renewal is already pending.
        }
    }

    /// <summary>The evidence this device would send now for <paramref name="nonce"/>, as signed bytes.</summary>
    public async Task<byte[]> BuildEvidenceAsync(string nonce, CancellationToken cancellationToken)
    {
        var device = await identity.GetAsync(cancellationToken).ConfigureAwait(false);
        var settings = options.Value;
        List<Measurement> measurements =
        [
            new(MeasurementKinds.AgentBuild, "edgeplatform-agent", _build.Value),
            new(MeasurementKinds.Configuration, "agent", AgentMeasurements.MeasureConfiguration(
            [
                new("DeviceId", device.DeviceId),
                new("Channel", settings.Channel),
                new("ControlPlaneUrl", settings.ControlPlaneUrl),
                new("DataDirectory", settings.DataDirectory),
                .. settings.Tags.Select(t => new KeyValuePair<string, string?>("Tags:" + t.Key, t.Value)),
            ])),
        ];
        measurements.AddRange(await MeasureModelsAsync(cancellationToken).ConfigureAwait(false));
        var evidence = new AttestationEvidence(
            device.DeviceId,
            nonce,
            settings.Channel,
            typeof(AttestationClient).Assembly.GetName().Version?.ToString() ?? "0.0.0",
            measurements,
            new PlatformFacts(
                Environment.OSVersion.VersionString,
                System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString(),
                System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
                Environment.MachineName,
                TpmPresent: File.Exists("/dev/tpmrm0")),
            timeProvider.GetUtcNow());
        return JsonSerializer.SerializeToUtf8Bytes(evidence, ContractsJsonContext.Default.AttestationEvidence);
    }

    public override void Dispose()
    {
        _gate.Dispose();
        _renewalRequested.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var retry = RetryPipelines.Create(
            options.Value.AttestationRetry,
            timeProvider,
            ex => ex is AttestationRefusedException or HttpRequestException or EnrollmentException,
            failure =>
            {
                LogAttestationFailed(failure.Exception.Message, failure.Delay.TotalSeconds);
                lock (_pauseLock)
                {
                    _pausing = true;
                }
            });
        while (!stoppingToken.IsCancellationRequested)
        {
            using (var pause = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
            {
                lock (_pauseLock)
                {
                    _pause = pause;
                }

                try
                {
                    await retry.ExecuteAsync(
                        ct =>
                        {
                            lock (_pauseLock)
                            {
                                _pausing = false;
                            }

                            return GetTokenAsync(ct);
                        },
                        pause.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // A renewal was requested while attestation was failing: try again now.
                    continue;
                }
                finally
                {
                    lock (_pauseLock)
                    {
                        (_pause, _pausing) = (null, false);
                    }
                }
            }

            // A renewal requested since the token came (a model installed) clears it: attest again now.
            var wait = _current is { } current ? RenewAt(current) - timeProvider.GetUtcNow() : TimeSpan.Zero;
            await _renewalRequested.WaitAsync(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, stoppingToken).ConfigureAwait(false);
        }
    }

    private async Task<AttestationResult> AttestAsync(CancellationToken cancellationToken)
    {
        var device = await identity.GetAsync(cancellationToken).ConfigureAwait(false);
        using var client = httpClients.CreateClient(nameof(AttestationClient));
        client.BaseAddress = new Uri(device.MetadataUrl.TrimEnd('/') + "/");
        using var nonceResponse = await client.PostAsJsonAsync(
            "api/v1/attestation/nonce", new AttestationNonceRequest(device.DeviceId), ContractsJsonContext.Default.AttestationNonceRequest, cancellationToken).ConfigureAwait(false);
        await ThrowIfRefusedAsync(nonceResponse, cancellationToken).ConfigureAwait(false);
        var nonce = await nonceResponse.Content.ReadFromJsonAsync(ContractsJsonContext.Default.AttestationNonce, cancellationToken).ConfigureAwait(false)
            ?? throw new AttestationRefusedException("the control plane sent an empty nonce");

        var evidence = await BuildEvidenceAsync(nonce.Nonce, cancellationToken).ConfigureAwait(false);
        using var key = identity.LoadKey();
        var signer = new SoftwareEvidenceSigner(key);
        var request = new AttestationRequest(signer.Format, Convert.ToBase64String(evidence), Convert.ToBase64String(signer.Sign(evidence)));
        using var response = await client.PostAsJsonAsync("api/v1/attestation", request, ContractsJsonContext.Default.AttestationRequest, cancellationToken).ConfigureAwait(false);
        await ThrowIfRefusedAsync(response, cancellationToken).ConfigureAwait(false);
        var result = await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.AttestationResult, cancellationToken).ConfigureAwait(false)
            ?? throw new AttestationRefusedException("the control plane sent an empty attestation result");
        _current = result;
        _issuedAt = timeProvider.GetUtcNow();
        LastFailure = null;
        LogAttested(result.ExpiresAt);
        return result;
    }

    private async Task ThrowIfRefusedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var detail = ApiProblem.Describe(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));

        if (response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized or HttpStatusCode.BadRequest)
        {
            LastFailure = detail;
            throw new AttestationRefusedException($"attestation refused ({(int)response.StatusCode}): {detail}");
        }

        throw new HttpRequestException($"attestation call failed ({(int)response.StatusCode}): {detail}", null, response.StatusCode);
    }

    /// <summary>The ONNX file of each installed version (active and previous), hashed as it is on disk now.</summary>
    private async Task<List<Measurement>> MeasureModelsAsync(CancellationToken cancellationToken)
    {
        var result = new List<Measurement>();
        var current = state.Load();
        foreach (var model in new[] { current.Active, current.Previous })
        {
            if (model is null || !models.Contains(model.ManifestDigest))
            {
                continue;
            }

            var manifest = JsonSerializer.Deserialize(
                await models.ReadAsync(model.ManifestDigest, cancellationToken).ConfigureAwait(false), ContractsJsonContext.Default.OciManifest);
            if (manifest?.FindLayer(MediaTypes.Onnx) is { } layer && await models.MeasureAsync(layer.Digest, cancellationToken).ConfigureAwait(false) is { } measured)
            {
                result.Add(new Measurement(MeasurementKinds.Model, $"{model.Name}:{model.Version}", measured));
            }
        }

        return result;
    }

    private DateTimeOffset RenewAt(AttestationResult result) => _issuedAt + ((result.ExpiresAt - _issuedAt) * 2 / 3);

    private bool NeedsRenewal(AttestationResult result) => timeProvider.GetUtcNow() >= RenewAt(result);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "Attested; token valid until {ExpiresAt:O}")]
    private partial void LogAttested(DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Error, Message = "Attestation failed: {Reason}; retrying in {RetrySeconds} s")]
    private partial void LogAttestationFailed(string reason, double retrySeconds);
}

/// <summary>The control plane refused this device's attestation; the message says which check failed.</summary>
public sealed class AttestationRefusedException : Exception
{
    public AttestationRefusedException()
    {
    }

    public AttestationRefusedException(string message)
        : base(message)
    {
    }

    public AttestationRefusedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
