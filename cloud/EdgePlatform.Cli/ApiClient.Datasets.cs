using System.Net.Http.Headers;
using System.Net.Http.Json;
using EdgePlatform.Contracts;

namespace EdgePlatform.Cli;

/// <summary>Dataset versions: resumable uploads, registration, cleansing.</summary>
public sealed partial class ApiClient
{
    /// <summary>Bytes per upload request: small enough to retry cheaply, large enough to keep the link busy.</summary>
    public const int UploadChunkBytes = 8 * 1024 * 1024;

    private const int UploadAttempts = 5;

    public async Task<DatasetUploadInfo> StartDatasetUploadAsync(CancellationToken ct)
    {
        using var response = await SendAsync(() => _http.PostAsync("api/v1/datasets/uploads", null, ct), ct).ConfigureAwait(false);
        return await ReadAsync(response, ContractsJsonContext.Default.DatasetUploadInfo, ct).ConfigureAwait(false);
    }

    public Task<DatasetUploadInfo> GetDatasetUploadAsync(string id, CancellationToken ct) =>
        GetAsync($"api/v1/datasets/uploads/{Uri.EscapeDataString(id)}", ContractsJsonContext.Default.DatasetUploadInfo, ct);

    /// <summary>
    /// Sends <paramref name="file"/> from the upload's offset to its end in chunks; a chunk that
    /// fails to arrive is retried from the offset the server reports, so a dropped connection
    /// costs at most one chunk.
    /// </summary>
    public async Task UploadDatasetFileAsync(string id, string file, IProgress<long>? progress, CancellationToken ct)
    {
        var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true);
        await using (stream.ConfigureAwait(false))
        {
            var total = stream.Length;
            var offset = (await GetDatasetUploadAsync(id, ct).ConfigureAwait(false)).Offset;
            var buffer = new byte[UploadChunkBytes];
            var failures = 0;
            while (offset < total)
            {
                stream.Seek(offset, SeekOrigin.Begin);
                var length = await stream.ReadAtLeastAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, total - offset)), (int)Math.Min(buffer.Length, total - offset), throwOnEndOfStream: false, ct).ConfigureAwait(false);
                using var content = new ByteArrayContent(buffer, 0, length);
                content.Headers.ContentRange = new ContentRangeHeaderValue(offset, offset + length - 1, total);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                try
                {
                    using var response = await SendAsync(() => _http.PatchAsync($"api/v1/datasets/uploads/{Uri.EscapeDataString(id)}", content, ct), ct).ConfigureAwait(false);
                    offset = (await ReadAsync(response, ContractsJsonContext.Default.DatasetUploadInfo, ct).ConfigureAwait(false)).Offset;
                    failures = 0;
                }
                catch (CliException) when (++failures < UploadAttempts && !ct.IsCancellationRequested)
                {
                    offset = (await GetDatasetUploadAsync(id, ct).ConfigureAwait(false)).Offset;
                }

                progress?.Report(offset);
            }
        }
    }

    /// <summary>Registration reads the whole source on the server (twice: to check it, then to store it), so it waits without the usual request timeout.</summary>
    public async Task<DatasetVersionInfo> RegisterDatasetVersionAsync(string name, RegisterDatasetRequest request, CancellationToken ct)
    {
        using var response = await SendAsync(() => _slowHttp.PostAsJsonAsync($"api/v1/datasets/{Uri.EscapeDataString(name)}/versions", request, ContractsJsonContext.Default.RegisterDatasetRequest, ct), ct).ConfigureAwait(false);
        return await ReadAsync(response, ContractsJsonContext.Default.DatasetVersionInfo, ct).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<DatasetSummary>> ListDatasetCatalogAsync(CancellationToken ct) =>
        GetAsync("api/v1/datasets/catalog", ContractsJsonContext.Default.IReadOnlyListDatasetSummary, ct);

    public Task<IReadOnlyList<DatasetVersionInfo>> ListDatasetVersionsAsync(string name, CancellationToken ct) =>
        GetAsync($"api/v1/datasets/{Uri.EscapeDataString(name)}/versions", ContractsJsonContext.Default.IReadOnlyListDatasetVersionInfo, ct);

    public Task<DatasetProfile> GetDatasetProfileAsync(string name, string version, CancellationToken ct) =>
        GetAsync($"api/v1/datasets/{Uri.EscapeDataString(name)}/versions/{Uri.EscapeDataString(version)}/profile", ContractsJsonContext.Default.DatasetProfile, ct);

    public Task<DatasetVersionInfo> GetDatasetVersionAsync(string name, string version, CancellationToken ct) =>
        GetAsync($"api/v1/datasets/{Uri.EscapeDataString(name)}/versions/{Uri.EscapeDataString(version)}", ContractsJsonContext.Default.DatasetVersionInfo, ct);

    public async Task<DatasetVersionInfo> CleanDatasetAsync(string name, string version, CleanDatasetRequest request, CancellationToken ct)
    {
        using var response = await SendAsync(() => _slowHttp.PostAsJsonAsync($"api/v1/datasets/{Uri.EscapeDataString(name)}/versions/{Uri.EscapeDataString(version)}/clean", request, ContractsJsonContext.Default.CleanDatasetRequest, ct), ct).ConfigureAwait(false);
        return await ReadAsync(response, ContractsJsonContext.Default.DatasetVersionInfo, ct).ConfigureAwait(false);
    }
}
