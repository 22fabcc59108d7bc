using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.Oci;
using EdgePlatform.Security;
using EdgePlatform.Security.Attestation;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace EdgePlatform.FleetSim;

/// <summary>
/// One simulated device, speaking the agent's protocol: it enrolls with its own P-256 key and a
/// CSR, pins the root it is sent, attests (nonce, evidence signed with its key, token), holds an
/// MQTT 5 session over mutual TLS with its certificate (client id = device id, offline last will),
/// applies its retained desired state as the agent's reconciler does — reporting the incoming
/// version as downloading, verifying, staged, then active or failed — pulls packages with a
/// registry token its attestation bought, and sends Arrow health reports every interval.
/// Its work runs on three loops: the connection, the desired state, and telemetry.
/// </summary>
public sealed partial class SimulatedDevice : IAsyncDisposable
{
    private static readonly byte[] OnlinePayload = Encoding.UTF8.GetBytes(DeviceStatuses.Online);
    private static readonly byte[] OfflinePayload = Encoding.UTF8.GetBytes(DeviceStatuses.Offline);
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxRetry = TimeSpan.FromSeconds(30);

    private readonly FleetContext _fleet;
    private readonly SimulatorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly SemaphoreSlim _desiredArrived = new(0, 1);
    private readonly SemaphoreSlim _attesting = new(1, 1);
    private readonly SemaphoreSlim _reporting = new(1, 1);
    private readonly SemaphoreSlim _draining = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly DeviceTelemetry _telemetry;
    private readonly Random _random;

    private ECDsa? _key;
    private X509Certificate2? _certificate;
    private X509Certificate2? _ca;
    private EnrollmentResponse? _enrollment;
    private PackagePuller? _puller;
    private HttpClient? _registryHttp;
    private IMqttClient? _mqtt;
    private Task _loops = Task.CompletedTask;
    private bool _wantOnline = true;

    private AttestationResult? _token;
    private DateTimeOffset _tokenIssuedAt;
    private bool _renewToken;

    private DesiredState? _latestDesired;
    private long _desiredVersion;
    private int _telemetryInterval;
    private ModelReference? _active;
    private DateTimeOffset _activeSince;
    private ModelReference? _previous;
    private ModelSlotReport? _incoming;
    private ModelReference? _revertedFrom;
    private string? _lastError;
    private TimeSpan _retryDelay = FirstRetry;

    internal SimulatedDevice(FleetContext fleet, int index, bool late)
    {
        _fleet = fleet;
        _options = fleet.Options;
        _time = fleet.TimeProvider;
        _logger = fleet.Logger;
        Id = _options.DeviceId(index);
        Late = late;
        _random = new Random(HashCode.Combine(_options.Seed, index));
        _telemetry = new DeviceTelemetry(_options, _random);
        _telemetryInterval = _options.TelemetryIntervalSeconds;
    }

    public string Id { get; }

    /// <summary>Enrolls only when the late devices join.</summary>
    public bool Late { get; }

    public bool Started => _enrollment is not null;

    /// <summary>The version serving now, or null.</summary>
    public ModelReference? Active
    {
        get
        {
            lock (_gate)
            {
                return _active;
            }
        }
    }

    public string? LastError
    {
        get
        {
            lock (_gate)
            {
                return _lastError;
            }
        }
    }

    /// <summary>Reports still waiting to go up.</summary>
    public int TelemetryPending => _telemetry.Pending;

    /// <summary>Enrolls, attests and connects; the device then runs until it is disposed.</summary>
    internal async Task StartAsync(CancellationToken cancellationToken)
    {
        await _fleet.Starts.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await EnrollAsync(cancellationToken).ConfigureAwait(false);
            await GetTokenAsync(cancellationToken).ConfigureAwait(false);
            _mqtt = NewClient();
            await ConnectAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _fleet.Starts.Release();
        }

        var stopping = _stopping.Token;
        _loops = Task.WhenAll(
            Task.Run(() => KeepConnectedAsync(stopping), CancellationToken.None),
            Task.Run(() => ReconcileLoopAsync(stopping), CancellationToken.None),
            Task.Run(() => TelemetryLoopAsync(stopping), CancellationToken.None));
    }

    /// <summary>Drops off the broker as a device losing its network does: the broker publishes its offline will.</summary>
    internal Task GoOfflineAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _wantOnline = false;
        var lost = _mqtt!;
        _mqtt = NewClient();
        lost.ApplicationMessageReceivedAsync -= OnMessageAsync;
        lost.DisconnectedAsync -= OnDisconnectedAsync;
        if (lost.IsConnected)
        {
            _fleet.Counters.AddConnected(-1);
        }

        // The connection just drops, with no DISCONNECT packet: the broker then publishes the will.
        lost.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Comes back: reconnects, receives its retained desired state, drains what telemetry waited.</summary>
    internal void GoOnline()
    {
        _wantOnline = true;
        Wake(_wake);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loops.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping is the expected way out of the loops.
        }

        if (_mqtt is { } client)
        {
            if (client.IsConnected)
            {
                // A clean disconnect fires no will: say offline first, as the agent does.
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await PublishAsync(Topics.Status(Id), OfflinePayload, retain: true, timeout.Token).ConfigureAwait(false);
                    await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build(), timeout.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or InvalidOperationException)
                {
                    LogStopFailed(Id, ex.Message);
                }
            }

            client.Dispose();
        }

        _registryHttp?.Dispose();
        _certificate?.Dispose();
        _ca?.Dispose();
        _key?.Dispose();
        _wake.Dispose();
        _desiredArrived.Dispose();
        _attesting.Dispose();
        _reporting.Dispose();
        _draining.Dispose();
        _stopping.Dispose();
    }

    /// <summary>The reported twin as the device would publish it now.</summary>
    public ReportedState BuildReport()
    {
        lock (_gate)
        {
            var slots = new List<ModelSlotReport>(2);
            if (_active is { } active)
            {
                slots.Add(new ModelSlotReport(ModelSlots.Primary, active.Name, active.Version, active.ManifestDigest, ModelSlotStates.Active, _activeSince));
            }

            if (_incoming is { } incoming)
            {
                slots.Add(incoming);
            }

            return new ReportedState(FleetContext.AgentVersion, _desiredVersion, slots, _lastError, _time.GetUtcNow());
        }
    }

    private IMqttClient NewClient()
    {
        var client = _fleet.Mqtt.CreateMqttClient();
        client.ApplicationMessageReceivedAsync += OnMessageAsync;
        client.DisconnectedAsync += OnDisconnectedAsync;
        return client;
    }

    private async Task EnrollAsync(CancellationToken cancellationToken)
    {
        _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(Id);
        var csr = new CertificateRequest(subject.Build(), _key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
        var request = new EnrollmentRequest(Id, EnrollmentKeys.Derive(_options.EnrollmentKey!, Id), _options.Tags, csr);
        var enrollment = await CallAsync(
            "enrollment",
            ct => _fleet.Api.PostAsJsonAsync("api/v1/enrollments/devices", request, ContractsJsonContext.Default.EnrollmentRequest, ct),
            ContractsJsonContext.Default.EnrollmentResponse,
            cancellationToken).ConfigureAwait(false);

        using (var issued = X509Certificate2.CreateFromPem(enrollment.Certificate))
        {
            _certificate = issued.CopyWithPrivateKey(_key);
        }

        _ca = X509Certificate2.CreateFromPem(enrollment.CaCertificate);
        var store = new InMemoryTufMetadataStore();
        try
        {
            TufClient.Pin(store, Encoding.UTF8.GetBytes(enrollment.TrustedRoot ?? string.Empty));
        }
        catch (Exception ex) when (ex is TufFormatException or TufVerificationException)
        {
            throw new SimulatorException($"the root metadata sent to {Id} at enrollment cannot be pinned: {ex.Message}", ex);
        }

        var metadata = new Uri(enrollment.MetadataUrl.TrimEnd('/') + "/");
        var trust = new TufClient(store, new HttpTufRemote(_fleet.Api, _ => ValueTask.FromResult(metadata)), _time);
        _registryHttp = new HttpClient(new RegistryTokenHandler(async ct => await GetTokenAsync(ct).ConfigureAwait(false)) { InnerHandler = _fleet.Handler }, disposeHandler: false)
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        var registry = new OciDistributionClient(_registryHttp, new Uri(enrollment.RegistryUrl.TrimEnd('/') + "/"));
        _puller = new PackagePuller(Id, trust, registry, _fleet.Record, _options.Channel, _options.BandwidthBytesPerSecond, _time);
        _enrollment = enrollment;
        _fleet.Counters.AddEnrolled();
    }

    /// <summary>A token with a third of its life left, attesting first when there is none or what is measured changed.</summary>
    private async Task<string> GetTokenAsync(CancellationToken cancellationToken)
    {
        await _attesting.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_token is { } current && !_renewToken && _time.GetUtcNow() < _tokenIssuedAt + ((current.ExpiresAt - _tokenIssuedAt) * 2 / 3))
            {
                return current.Token;
            }

            var nonce = await CallAsync(
                "attestation",
                ct => _fleet.Api.PostAsJsonAsync("api/v1/attestation/nonce", new AttestationNonceRequest(Id), ContractsJsonContext.Default.AttestationNonceRequest, ct),
                ContractsJsonContext.Default.AttestationNonce,
                cancellationToken).ConfigureAwait(false);
            var evidence = JsonSerializer.SerializeToUtf8Bytes(BuildEvidence(nonce.Nonce), ContractsJsonContext.Default.AttestationEvidence);
            var signer = new SoftwareEvidenceSigner(_key!);
            var request = new AttestationRequest(signer.Format, Convert.ToBase64String(evidence), Convert.ToBase64String(signer.Sign(evidence)));
            _renewToken = false;
            var result = await CallAsync(
                "attestation",
                ct => _fleet.Api.PostAsJsonAsync("api/v1/attestation", request, ContractsJsonContext.Default.AttestationRequest, ct),
                ContractsJsonContext.Default.AttestationResult,
                cancellationToken).ConfigureAwait(false);
            _token = result;
            _tokenIssuedAt = _time.GetUtcNow();
            _fleet.Counters.AddAttestation();
            return result.Token;
        }
        finally
        {
            _attesting.Release();
        }
    }

    private AttestationEvidence BuildEvidence(string nonce)
    {
        List<Measurement> measurements =
        [
            new(MeasurementKinds.AgentBuild, "edgeplatform-fleetsim", _fleet.Build.Value),
            new(MeasurementKinds.Configuration, "fleetsim", AgentMeasurements.MeasureConfiguration(
            [
                new("DeviceId", Id),
                new("Channel", _options.Channel),
                new("ControlPlaneUrl", _options.ControlPlane?.ToString()),
                new("Simulated", "true"),
                .. _options.Tags.Select(t => new KeyValuePair<string, string?>("Tags:" + t.Key, t.Value)),
            ])),
        ];
        lock (_gate)
        {
            foreach (var model in new[] { _active, _previous })
            {
                if (model is not null && _puller?.OnnxDigestOf(model.ManifestDigest) is { } onnx)
                {
                    measurements.Add(new Measurement(MeasurementKinds.Model, $"{model.Name}:{model.Version}", onnx));
                }
            }
        }

        return new AttestationEvidence(
            Id,
            nonce,
            _options.Channel,
            FleetContext.AgentVersion,
            measurements,
            new PlatformFacts(Environment.OSVersion.VersionString, System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString(), System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription, Environment.MachineName, TpmPresent: false),
            _time.GetUtcNow());
    }

    /// <summary>
    /// One call to the control plane's API, retried while the answer is transient (5xx, 409 "too
    /// many in progress", a dropped connection); a refusal (400, 401, 403, 404) ends the fleet's
    /// start with the server's reason.
    /// </summary>
    private async Task<T> CallAsync<T>(
        string what,
        Func<CancellationToken, Task<HttpResponseMessage>> send,
        System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type,
        CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        for (var attempt = 1; ; attempt++)
        {
            HttpResponseMessage response;
            try
            {
                response = await send(cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex) when (attempt < 4)
            {
                LogCallRetry(Id, what, ex.Message);
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                delay *= 2;
                continue;
            }
            catch (HttpRequestException ex)
            {
                throw new SimulatorException($"cannot reach the control plane at {_options.ControlPlane} for {what} of {Id}: {ex.Message}", ex);
            }

            using (response)
            {
                if (response.IsSuccessStatusCode)
                {
                    try
                    {
                        return await response.Content.ReadFromJsonAsync(type, cancellationToken).ConfigureAwait(false)
                            ?? throw new SimulatorException($"the control plane answered {what} of {Id} with an empty body");
                    }
                    catch (JsonException ex)
                    {
                        throw new SimulatorException($"the control plane answered {what} of {Id} with something other than its JSON: {ex.Message}", ex);
                    }
                }

                var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                var detail = ApiProblem.Describe(body);
                var transient = response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500;
                if (!transient || attempt >= 8)
                {
                    var hint = detail.Contains("measurement check failed: agent build", StringComparison.Ordinal)
                        ? "; start the control plane with --Attestation:AllowedAgentBuilds:*:0=<measurement> for this simulator's build (edgectl sim --print-measurement prints it)"
                        : string.Empty;
                    throw new SimulatorException(string.Create(CultureInfo.InvariantCulture, $"{what} of {Id} refused ({(int)response.StatusCode}): {detail}{hint}"));
                }

                LogCallRetry(Id, what, string.Create(CultureInfo.InvariantCulture, $"{(int)response.StatusCode} {detail}"));
            }

            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetry.Ticks));
        }
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var enrollment = _enrollment!;
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(enrollment.MqttHost, enrollment.MqttPort)
            .WithClientId(Id)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(true)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(60))
            .WithTimeout(TimeSpan.FromSeconds(60))
            .WithTlsOptions(new MqttClientTlsOptionsBuilder()
                .UseTls()
                .WithTargetHost(enrollment.MqttHost)
                .WithClientCertificates([_certificate!])
                .WithTrustChain([_ca!])
                .Build())
            .WithWillTopic(Topics.Status(Id))
            .WithWillPayload(OfflinePayload)
            .WithWillRetain(true)
            .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        var result = await _mqtt!.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            throw new SimulatorException($"the broker refused {Id}: {result.ResultCode} {result.ReasonString}");
        }

        _fleet.Counters.AddConnected(1);
        var subscribed = await _mqtt.SubscribeAsync(
            new MqttClientSubscribeOptionsBuilder().WithTopicFilter(Topics.Desired(Id), MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancellationToken).ConfigureAwait(false);
        if (subscribed.Items.Any(i => i.ResultCode > MqttClientSubscribeResultCode.GrantedQoS2))
        {
            throw new SimulatorException($"the broker refused {Id}'s subscription to {Topics.Desired(Id)}");
        }

        await PublishAsync(Topics.Status(Id), OnlinePayload, retain: true, cancellationToken).ConfigureAwait(false);
        await ReportAsync(cancellationToken).ConfigureAwait(false);

        // What waited while the device was away goes up now, not an interval later.
        _ = Task.Run(() => DrainAsync(_stopping.Token), CancellationToken.None);
    }

    private async Task KeepConnectedAsync(CancellationToken stopping)
    {
        var delay = FirstRetry;
        while (!stopping.IsCancellationRequested)
        {
            if (_wantOnline && !_mqtt!.IsConnected)
            {
                await _fleet.Starts.WaitAsync(stopping).ConfigureAwait(false);
                try
                {
                    await ConnectAsync(stopping).ConfigureAwait(false);
                    _fleet.Counters.AddReconnect();
                    delay = FirstRetry;
                    continue;
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stopping.IsCancellationRequested)
                {
                    LogReconnectFailed(Id, ex.Message, delay.TotalSeconds);
                }
                finally
                {
                    _fleet.Starts.Release();
                }

                await Task.Delay(delay, _time, stopping).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetry.Ticks));
                continue;
            }

            await _wake.WaitAsync(stopping).ConfigureAwait(false);
        }
    }

    private Task OnDisconnectedAsync(MqttClientDisconnectedEventArgs args)
    {
        if (args.ClientWasConnected)
        {
            _fleet.Counters.AddConnected(-1);
        }

        if (!_stopping.IsCancellationRequested)
        {
            Wake(_wake);
        }

        return Task.CompletedTask;
    }

    private Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs args)
    {
        var payload = args.ApplicationMessage.Payload;
        if (payload.IsEmpty)
        {
            // A cleared retained message: nothing is desired of the device yet.
            return Task.CompletedTask;
        }

        DesiredState? desired;
        try
        {
            desired = JsonSerializer.Deserialize(payload.IsSingleSegment ? payload.FirstSpan : System.Buffers.BuffersExtensions.ToArray(payload), ContractsJsonContext.Default.DesiredState);
        }
        catch (JsonException ex)
        {
            LogMalformedDesired(Id, ex.Message);
            return Task.CompletedTask;
        }

        if (desired is null)
        {
            LogMalformedDesired(Id, "document is null");
            return Task.CompletedTask;
        }

        _fleet.Record.Told(Id, desired, _time.GetUtcNow());
        lock (_gate)
        {
            if (_latestDesired is null || desired.Version >= _latestDesired.Version)
            {
                _latestDesired = desired;
            }
        }

        // The work happens on the device's own loop: a long download must not hold up the client's receive loop.
        Wake(_desiredArrived);
        return Task.CompletedTask;
    }

    private async Task ReconcileLoopAsync(CancellationToken stopping)
    {
        DesiredState? applied = null;
        while (!stopping.IsCancellationRequested)
        {
            await _desiredArrived.WaitAsync(stopping).ConfigureAwait(false);
            DesiredState? desired;
            lock (_gate)
            {
                desired = _latestDesired;
            }

            if (desired is null || ReferenceEquals(desired, applied))
            {
                continue;
            }

            applied = desired;
            try
            {
                await ReconcileAsync(desired, stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A fault the reconcile does not expect: the device says so and keeps listening.
                LogReconcileFailed(Id, desired.Version, ex);
                lock (_gate)
                {
                    _lastError = $"reconcile of desired version {desired.Version} failed: {ex.Message}";
                }

                await ReportAsync(stopping).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The agent's reconcile, step for step, with each step reported in the incoming slot.</summary>
    internal async Task ReconcileAsync(DesiredState desired, CancellationToken cancellationToken)
    {
        ModelReference? target;
        ModelReference? current;
        lock (_gate)
        {
            if (desired.Version < _desiredVersion)
            {
                return;
            }

            _telemetryInterval = Math.Max(1, desired.Telemetry?.IntervalSeconds ?? _options.TelemetryIntervalSeconds);
            target = desired.Deployment?.Model;
            current = _active;
            if (desired.Version == _desiredVersion && target is not null && _revertedFrom is { } reverted && SameRelease(target, reverted))
            {
                // The same document again: the verdict on that version stands.
                return;
            }

            if (target is null || SameRelease(target, current))
            {
                _desiredVersion = desired.Version;
                _lastError = null;
                _incoming = null;
                target = null;
            }
        }

        if (target is null)
        {
            await ReportAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        await SetIncomingAsync(target, ModelSlotStates.Downloading, cancellationToken).ConfigureAwait(false);
        _fleet.Counters.AddInstalling(1);
        try
        {
            await _fleet.Downloads.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await _puller!.PullAsync(target, () => SetIncomingAsync(target, ModelSlotStates.Verifying, cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _fleet.Downloads.Release();
            }
        }
        catch (PackageRefusedException ex)
        {
            _fleet.Counters.AddRefused();
            await FailAsync(desired, target, $"install: {ex.Message}", revert: false, cancellationToken).ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or SimulatorException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            await FailAsync(desired, target, $"install: {ex.Message}", revert: false, cancellationToken).ConfigureAwait(false);
            ScheduleRetry(desired, cancellationToken);
            return;
        }
        finally
        {
            _fleet.Counters.AddInstalling(-1);
        }

        await SetIncomingAsync(target, ModelSlotStates.Staged, cancellationToken).ConfigureAwait(false);
        if (_options.WarmUpSeconds > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(_options.WarmUpSeconds), _time, cancellationToken).ConfigureAwait(false);
        }

        if (_options.BehaviourOf(target.Name, target.Version).FailsWarmUp)
        {
            _fleet.Counters.AddWarmUpFailure();
            var kept = current is null ? "no version is serving" : $"reverted to {current.Name}:{current.Version}";
            await FailAsync(desired, target, $"warm-up failed for {target.Name}:{target.Version} (simulated failure); {kept}", revert: true, cancellationToken).ConfigureAwait(false);
            return;
        }

        lock (_gate)
        {
            _previous = current;
            _active = target;
            _activeSince = _time.GetUtcNow();
            _incoming = null;
            _lastError = null;
            _revertedFrom = null;
            _desiredVersion = desired.Version;
            _renewToken = true;
            _retryDelay = FirstRetry;
        }

        _fleet.Counters.AddInstalled();
        await ReportAsync(cancellationToken).ConfigureAwait(false);

        // What is measured changed: attest again, as the agent does after every reconcile.
        _ = Task.Run(() => ReattestAsync(cancellationToken), CancellationToken.None);
    }

    private async Task ReattestAsync(CancellationToken cancellationToken)
    {
        try
        {
            await GetTokenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SimulatorException or HttpRequestException || (ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            LogReattestFailed(Id, ex.Message);
        }
    }

    private async Task SetIncomingAsync(ModelReference target, string state, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _incoming = new ModelSlotReport(ModelSlots.Incoming, target.Name, target.Version, target.ManifestDigest, state, _time.GetUtcNow());
        }

        await ReportAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task FailAsync(DesiredState desired, ModelReference target, string error, bool revert, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            // The desired version counts as seen even when refused, so it cannot be replayed later.
            _desiredVersion = desired.Version;
            _lastError = error;
            _incoming = new ModelSlotReport(ModelSlots.Incoming, target.Name, target.Version, target.ManifestDigest, ModelSlotStates.Failed, _time.GetUtcNow());
            if (revert)
            {
                _revertedFrom = target;
            }
        }

        LogInstallFailed(Id, target.Name, target.Version, error);
        await ReportAsync(cancellationToken).ConfigureAwait(false);
    }

    private void ScheduleRetry(DesiredState desired, CancellationToken cancellationToken)
    {
        TimeSpan delay;
        lock (_gate)
        {
            delay = _retryDelay;
            _retryDelay = TimeSpan.FromTicks(Math.Min(_retryDelay.Ticks * 2, MaxRetry.Ticks * 10));
        }

        _fleet.Counters.AddRetry();
        _ = Task.Run(
            async () =>
            {
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                lock (_gate)
                {
                    if (_latestDesired is { } latest && latest.Version > desired.Version)
                    {
                        return;
                    }

                    // A fresh document instance, so the loop takes it as new work.
                    _latestDesired = desired with { };
                }

                Wake(_desiredArrived);
            },
            CancellationToken.None);
    }

    private static bool SameRelease(ModelReference target, ModelReference? current) =>
        current is not null
        && string.Equals(target.ManifestDigest, current.ManifestDigest, StringComparison.Ordinal)
        && string.Equals(target.Name, current.Name, StringComparison.Ordinal)
        && string.Equals(target.Version, current.Version, StringComparison.Ordinal);

    private async Task ReportAsync(CancellationToken cancellationToken)
    {
        if (_mqtt is not { IsConnected: true })
        {
            return;
        }

        await _reporting.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var payload = JsonSerializer.SerializeToUtf8Bytes(BuildReport(), ContractsJsonContext.Default.ReportedState);
            await PublishAsync(Topics.Reported(Id), payload, retain: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException or ObjectDisposedException)
        {
            // Published again on the next connect (a device that dropped off has a fresh client).
            LogReportFailed(Id, ex.Message);
        }
        finally
        {
            _reporting.Release();
        }
    }

    private async Task<MqttClientPublishResult> PublishAsync(string topic, byte[] payload, bool retain, CancellationToken cancellationToken) =>
        await _mqtt!.PublishAsync(
            new MqttApplicationMessageBuilder()
                .WithTopic(topic)
                .WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .WithRetainFlag(retain)
                .Build(),
            cancellationToken).ConfigureAwait(false);

    private async Task TelemetryLoopAsync(CancellationToken stopping)
    {
        // Devices start at different moments of their interval, as a real fleet does.
        var phase = TimeSpan.FromSeconds(_random.NextDouble() * _telemetryInterval);
        await Task.Delay(phase, _time, stopping).ConfigureAwait(false);
        var last = _time.GetTimestamp();
        while (!stopping.IsCancellationRequested)
        {
            var now = _time.GetTimestamp();
            ModelReference? active;
            lock (_gate)
            {
                active = _active;
            }

            _telemetry.Add(active, _time.GetElapsedTime(last, now), _time.GetUtcNow());
            last = now;
            await DrainAsync(stopping).ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromSeconds(_telemetryInterval), _time, stopping).ConfigureAwait(false);
        }
    }

    /// <summary>Sends waiting reports, oldest first, each batch removed only once the broker acknowledged it to a subscriber.</summary>
    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _draining.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // The device is stopping; what waits is counted as pending in the summary.
            return;
        }

        try
        {
            await DrainLockedAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _draining.Release();
        }
    }

    private async Task DrainLockedAsync(CancellationToken cancellationToken)
    {
        while (_mqtt is { IsConnected: true } && _telemetry.Peek() is { Count: > 0 } batch)
        {
            MqttClientPublishResult result;
            try
            {
                result = await PublishAsync(Topics.Telemetry(Id, TelemetryKinds.Health), TelemetryArrow.Serialize(Id, batch), retain: false, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException or OperationCanceledException or ObjectDisposedException)
            {
                LogReportFailed(Id, ex.Message);
                return;
            }

            if (!result.IsSuccess)
            {
                // No subscriber yet (a control plane restarting) or refused: keep them for the next interval.
                return;
            }

            _telemetry.Acknowledge(batch[^1].Sequence);
            _fleet.Counters.AddTelemetryReports(batch.Count);
        }
    }

    private static void Wake(SemaphoreSlim signal)
    {
        try
        {
            if (signal.CurrentCount == 0)
            {
                signal.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
        catch (ObjectDisposedException)
        {
            // The device is stopping.
        }
    }

    [LoggerMessage(EventId = 4000, Level = LogLevel.Warning, Message = "{DeviceId}: {What} call failed ({Reason}); retrying")]
    private partial void LogCallRetry(string deviceId, string what, string reason);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "{DeviceId}: could not reconnect ({Reason}); retrying in {Seconds} s")]
    private partial void LogReconnectFailed(string deviceId, string reason, double seconds);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "{DeviceId}: ignored a malformed desired state: {Reason}")]
    private partial void LogMalformedDesired(string deviceId, string reason);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "{DeviceId}: {Name}:{Version} not installed: {Reason}")]
    private partial void LogInstallFailed(string deviceId, string name, string version, string reason);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Debug, Message = "{DeviceId}: publish failed ({Reason}); sent again on reconnect")]
    private partial void LogReportFailed(string deviceId, string reason);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "{DeviceId}: attestation after an install failed: {Reason}")]
    private partial void LogReattestFailed(string deviceId, string reason);

    [LoggerMessage(EventId = 4007, Level = LogLevel.Error, Message = "{DeviceId}: reconcile of desired version {Version} failed")]
    private partial void LogReconcileFailed(string deviceId, long version, Exception exception);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Debug, Message = "{DeviceId}: clean disconnect on stop failed: {Reason}")]
    private partial void LogStopFailed(string deviceId, string reason);
}
