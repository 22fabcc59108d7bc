using System.Net.Http.Json;
using System.Text.Json.Serialization.Metadata;
using EdgePlatform.Contracts;
using EdgePlatform.Security.Pki;

namespace EdgePlatform.Cli;

/// <summary>The control plane's /api/v1 over HTTP; refusals become <see cref="CliException"/> with the server's own words.</summary>
public sealed partial class ApiClient : IDisposable
{
    private readonly HttpClient _http;

    /// <summary>The same connection for the calls that run as long as their data is large (dataset registration, cleansing).</summary>
    private readonly HttpClient _slowHttp;

    public ApiClient(Uri server, string? token = null, ServerCertificatePin? pin = null)
    {
        Token = token;
        Pin = pin;
        if (token is not null && ServerCertificatePin.CleartextRefusal(server) is { } cleartext)
        {
            throw new CliException($"--server {cleartext}");
        }

        // The registry under /v2/ wants a registry token, which the API token buys from the server.
        var handler = RegistryHandler(token, server, pin);
        _http = new HttpClient(handler) { BaseAddress = server, Timeout = TimeSpan.FromSeconds(30) };
        _slowHttp = new HttpClient(handler, disposeHandler: false) { BaseAddress = server, Timeout = Timeout.InfiniteTimeSpan };
        if (token is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            _slowHttp.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }
    }

    /// <summary>The API token this client presents, if any.</summary>
    public string? Token { get; }

    /// <summary>What the server's HTTPS certificate is held to, if the user gave a pin.</summary>
    public ServerCertificatePin? Pin { get; }

    /// <summary>
    /// An HTTP handler that answers registry token challenges with <paramref name="token"/>, giving
    /// it only to the registry's own token service or to <paramref name="server"/>'s.
    /// </summary>
    public static HttpMessageHandler RegistryHandler(string? token, Uri server, ServerCertificatePin? pin) =>
        new EdgePlatform.Oci.RegistryTokenHandler(_ => ValueTask.FromResult(token), [server]) { InnerHandler = ServerCertificatePin.Handler(server, pin) };

    public Task<WhoAmI> WhoAmIAsync(CancellationToken ct) => GetAsync("api/v1/whoami", ContractsJsonContext.Default.WhoAmI, ct);

    public Task<CreatedToken> CreateTokenAsync(CreateTokenRequest request, CancellationToken ct) =>
        PostAsync("api/v1/tokens", request, ContractsJsonContext.Default.CreateTokenRequest, ContractsJsonContext.Default.CreatedToken, ct);

    public Task<IReadOnlyList<ApiTokenInfo>> ListTokensAsync(CancellationToken ct) =>
        GetAsync("api/v1/tokens", ContractsJsonContext.Default.IReadOnlyListApiTokenInfo, ct);

    public async Task RevokeTokenAsync(string id, CancellationToken ct)
    {
        using var response = await SendAsync(() => _http.DeleteAsync($"api/v1/tokens/{Uri.EscapeDataString(id)}", ct), ct).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<AuditEntry>> AuditAsync(int limit, CancellationToken ct) =>
        GetAsync($"api/v1/audit?limit={limit}", ContractsJsonContext.Default.IReadOnlyListAuditEntry, ct);

    public Uri Server => _http.BaseAddress!;

    public Task<IReadOnlyList<DeviceInfo>> ListDevicesAsync(CancellationToken ct) =>
        GetAsync("api/v1/devices", ContractsJsonContext.Default.IReadOnlyListDeviceInfo, ct);

    public Task<DeviceInfo> GetDeviceAsync(string id, CancellationToken ct) =>
        GetAsync($"api/v1/devices/{Uri.EscapeDataString(id)}", ContractsJsonContext.Default.DeviceInfo, ct);

    public Task<ModelInfo> GetModelAsync(string reference, CancellationToken ct) =>
        GetAsync($"api/v1/models/{Uri.EscapeDataString(reference)}", ContractsJsonContext.Default.ModelInfo, ct);

    public async Task<DeviceInfo> RevokeDeviceAsync(string id, CancellationToken ct)
    {
        using var response = await SendAsync(() => _http.PostAsync($"api/v1/devices/{Uri.EscapeDataString(id)}/revoke", null, ct), ct).ConfigureAwait(false);
        return await ReadAsync(response, ContractsJsonContext.Default.DeviceInfo, ct).ConfigureAwait(false);
    }

    public Task<EnrollmentGroupInfo> CreateEnrollmentGroupAsync(string name, CancellationToken ct) =>
        PostAsync("api/v1/enrollments", new CreateEnrollmentGroupRequest(name), ContractsJsonContext.Default.CreateEnrollmentGroupRequest, ContractsJsonContext.Default.EnrollmentGroupInfo, ct);

    public Task<IReadOnlyList<EnrollmentGroupInfo>> ListEnrollmentGroupsAsync(CancellationToken ct) =>
        GetAsync("api/v1/enrollments", ContractsJsonContext.Default.IReadOnlyListEnrollmentGroupInfo, ct);

    public async Task RevokeEnrollmentGroupAsync(string id, CancellationToken ct)
    {
        using var response = await SendAsync(() => _http.DeleteAsync($"api/v1/enrollments/{Uri.EscapeDataString(id)}", ct), ct).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<ModelInfo>> ListModelsAsync(CancellationToken ct) =>
        GetAsync("api/v1/models", ContractsJsonContext.Default.IReadOnlyListModelInfo, ct);

    /// <summary>The server loads the graph and scores the sample before it answers, so this waits as long as that takes.</summary>
    public async Task<ModelInfo> ImportModelAsync(string name, ModelImportRequest request, CancellationToken ct)
    {
        using var response = await SendAsync(() => _slowHttp.PostAsJsonAsync($"api/v1/models/{Uri.EscapeDataString(name)}/import", request, ContractsJsonContext.Default.ModelImportRequest, ct), ct).ConfigureAwait(false);
        return await ReadAsync(response, ContractsJsonContext.Default.ModelInfo, ct).ConfigureAwait(false);
    }

    /// <summary>The server builds the image and pushes every platform before it answers (the base layers once), so this waits as long as that takes.</summary>
    public async Task<ModelImageInfo> ContainerizeModelAsync(string name, string version, CancellationToken ct)
    {
        using var response = await SendAsync(
            () => _slowHttp.PostAsync($"api/v1/models/{Uri.EscapeDataString(name)}/versions/{Uri.EscapeDataString(version)}/image", content: null, ct), ct).ConfigureAwait(false);
        return await ReadAsync(response, ContractsJsonContext.Default.ModelImageInfo, ct).ConfigureAwait(false);
    }

    public Task<DeploymentInfo> DeployAsync(CreateDeploymentRequest request, CancellationToken ct) =>
        PostAsync("api/v1/deployments", request, ContractsJsonContext.Default.CreateDeploymentRequest, ContractsJsonContext.Default.DeploymentInfo, ct);

    public Task<TrainingRunInfo> StartTrainingAsync(TrainingRequest request, CancellationToken ct) =>
        PostAsync("api/v1/training-runs", request, ContractsJsonContext.Default.TrainingRequest, ContractsJsonContext.Default.TrainingRunInfo, ct);

    public Task<TrainingRunInfo> GetTrainingRunAsync(string id, CancellationToken ct) =>
        GetAsync($"api/v1/training-runs/{Uri.EscapeDataString(id)}", ContractsJsonContext.Default.TrainingRunInfo, ct);

    public Task<IReadOnlyList<DeviceTelemetrySummary>> GetTelemetryAsync(string? device, CancellationToken ct) =>
        GetAsync(
            device is null ? "api/v1/telemetry/summary" : $"api/v1/telemetry/summary?device={Uri.EscapeDataString(device)}",
            ContractsJsonContext.Default.IReadOnlyListDeviceTelemetrySummary,
            ct);

    /// <summary><c>GET /api/v1/telemetry</c> with the given filters (name → value; null values are left out).</summary>
    public Task<TelemetryQueryResult> QueryTelemetryAsync(IReadOnlyDictionary<string, string?> filters, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(filters);
        var query = QueryString(filters);
        return GetAsync(query.Length == 0 ? "api/v1/telemetry" : $"api/v1/telemetry?{query}", ContractsJsonContext.Default.TelemetryQueryResult, ct);
    }

    public Task<byte[]> ExportTelemetryAsync(IReadOnlyDictionary<string, string?> filters, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(filters);
        return GetBytesAsync($"api/v1/telemetry/export?{QueryString(filters)}", ct);
    }

    private static string QueryString(IReadOnlyDictionary<string, string?> parameters) =>
        string.Join('&', parameters.Where(p => p.Value is not null).Select(p => $"{p.Key}={Uri.EscapeDataString(p.Value!)}"));

    public Task<TelemetryIngestStats> GetTelemetryIngestAsync(CancellationToken ct) =>
        GetAsync("api/v1/telemetry/ingest", ContractsJsonContext.Default.TelemetryIngestStats, ct);

    public Task<byte[]> GetBlobAsync(string repository, string digest, CancellationToken ct) =>
        GetBytesAsync($"v2/{repository}/blobs/{digest}", ct);

    public Task<byte[]> GetManifestAsync(string repository, string digest, CancellationToken ct) =>
        GetBytesAsync($"v2/{repository}/manifests/{digest}", ct);

    /// <summary>Raw bytes of a GET, for signed metadata that must be verified exactly as served.</summary>
    public async Task<byte[]> GetBytesAsync(string path, CancellationToken ct)
    {
        using var response = await SendAsync(() => _http.GetAsync(path, ct), ct).ConfigureAwait(false);
        return await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
    }

    /// <summary>PUTs raw bytes (signed metadata, a signature); the server's refusal becomes a <see cref="CliException"/>.</summary>
    public async Task PutAsync(string path, byte[] body, CancellationToken ct)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        using var response = await SendAsync(() => _http.PutAsync(path, content, ct), ct).ConfigureAwait(false);
    }

    public HttpClient Http => _http;

    public void Dispose()
    {
        _slowHttp.Dispose();
        _http.Dispose();
    }

    private async Task<T> GetAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken ct)
    {
        using var response = await SendAsync(() => _http.GetAsync(path, ct), ct).ConfigureAwait(false);
        return await ReadAsync(response, type, ct).ConfigureAwait(false);
    }

    private async Task<TResponse> PostAsync<TRequest, TResponse>(string path, TRequest body, JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TResponse> responseType, CancellationToken ct)
    {
        using var response = await SendAsync(() => _http.PostAsJsonAsync(path, body, requestType, ct), ct).ConfigureAwait(false);
        return await ReadAsync(response, responseType, ct).ConfigureAwait(false);
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, CancellationToken ct) =>
        await response.Content.ReadFromJsonAsync(type, ct).ConfigureAwait(false)
            ?? throw new CliException($"the server answered {response.RequestMessage?.RequestUri} with an empty body");

    private async Task<HttpResponseMessage> SendAsync(Func<Task<HttpResponseMessage>> send, CancellationToken ct)
    {
        HttpResponseMessage response;
        try
        {
            response = await send().ConfigureAwait(false);
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.SecureConnectionError)
        {
            throw new CliException(
                $"refused the server at {Server}: " + (Pin?.LastRefusal
                    ?? "its certificate is not trusted by this machine's roots; pass --ca-file or --ca-fingerprint (the server logs its fingerprint at start and writes it to server.json)"),
                ex);
        }
        catch (HttpRequestException ex)
        {
            throw new CliException($"cannot reach the control plane at {Server}: {ex.Message} (start one with 'edgectl server', or pass --server)", ex);
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            throw new CliException($"{(int)response.StatusCode} {response.ReasonPhrase}: {ApiProblem.Describe(body)}");
        }
    }
}
