using System.Net;
using System.Net.Http.Json;
using EdgePlatform.Contracts;

namespace EdgePlatform.Cli;

/// <summary>Sweeps, their trials, and the worker protocol.</summary>
public sealed partial class ApiClient
{
    public Task<SweepInfo> SubmitSweepAsync(SweepSpec spec, CancellationToken ct) =>
        PostAsync("api/v1/sweeps", spec, ContractsJsonContext.Default.SweepSpec, ContractsJsonContext.Default.SweepInfo, ct);

    public Task<IReadOnlyList<SweepInfo>> ListSweepsAsync(CancellationToken ct) =>
        GetAsync("api/v1/sweeps", ContractsJsonContext.Default.IReadOnlyListSweepInfo, ct);

    public Task<SweepInfo> GetSweepAsync(string id, CancellationToken ct) =>
        GetAsync($"api/v1/sweeps/{Uri.EscapeDataString(id)}", ContractsJsonContext.Default.SweepInfo, ct);

    public async Task<SweepInfo> StopSweepAsync(string id, CancellationToken ct)
    {
        using var response = await SendAsync(() => _http.PostAsync($"api/v1/sweeps/{Uri.EscapeDataString(id)}/stop", null, ct), ct).ConfigureAwait(false);
        return await ReadAsync(response, ContractsJsonContext.Default.SweepInfo, ct).ConfigureAwait(false);
    }

    /// <summary>One page of a sweep's trials; <paramref name="filters"/> are the query parameters (null values left out).</summary>
    public Task<TrialPage> QueryTrialsAsync(string id, IReadOnlyDictionary<string, string?> filters, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(filters);
        var query = QueryString(filters);
        return GetAsync($"api/v1/sweeps/{Uri.EscapeDataString(id)}/trials{(query.Length == 0 ? "" : "?" + query)}", ContractsJsonContext.Default.TrialPage, ct);
    }

    /// <summary>Every trial of a sweep matching <paramref name="filters"/>, page by page.</summary>
    public async Task<IReadOnlyList<TrialInfo>> AllTrialsAsync(string id, IReadOnlyDictionary<string, string?> filters, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(filters);
        var all = new List<TrialInfo>();
        var query = new Dictionary<string, string?>(filters, StringComparer.Ordinal) { ["limit"] = "1000" };
        while (true)
        {
            var page = await QueryTrialsAsync(id, query, ct).ConfigureAwait(false);
            all.AddRange(page.Items);
            if (page.NextOffset is not { } next)
            {
                return all;
            }

            query["offset"] = next.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    public Task<byte[]> ExportSweepAsync(string id, CancellationToken ct) =>
        GetBytesAsync($"api/v1/sweeps/{Uri.EscapeDataString(id)}/export", ct);

    public Task<IReadOnlyList<WorkerInfo>> ListWorkersAsync(CancellationToken ct) =>
        GetAsync("api/v1/workers", ContractsJsonContext.Default.IReadOnlyListWorkerInfo, ct);

    /// <summary>A trial to run, or null when nothing is queued.</summary>
    public async Task<TrialLease?> LeaseTrialAsync(TrialLeaseRequest request, CancellationToken ct)
    {
        using var response = await SendAsync(() => _http.PostAsJsonAsync("api/v1/workers/lease", request, ContractsJsonContext.Default.TrialLeaseRequest, ct), ct).ConfigureAwait(false);
        return response.StatusCode == HttpStatusCode.NoContent ? null : await ReadAsync(response, ContractsJsonContext.Default.TrialLease, ct).ConfigureAwait(false);
    }

    public Task<TrialHeartbeatReply> HeartbeatTrialAsync(string sweepId, int number, TrialHeartbeat heartbeat, CancellationToken ct) =>
        PostAsync($"api/v1/sweeps/{Uri.EscapeDataString(sweepId)}/trials/{number}/heartbeat", heartbeat, ContractsJsonContext.Default.TrialHeartbeat, ContractsJsonContext.Default.TrialHeartbeatReply, ct);

    public Task<TrialReportReply> ReportTrialAsync(string sweepId, int number, TrialReport report, CancellationToken ct) =>
        PostAsync($"api/v1/sweeps/{Uri.EscapeDataString(sweepId)}/trials/{number}/report", report, ContractsJsonContext.Default.TrialReport, ContractsJsonContext.Default.TrialReportReply, ct);

    /// <summary>Streams a running sweep's snapshot into <paramref name="destination"/>.</summary>
    public async Task DownloadDatasetAsync(string digest, Stream destination, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(destination);
        using var response = await SendAsync(
            () => _slowHttp.GetAsync($"api/v1/workers/datasets/{Uri.EscapeDataString(digest)}", HttpCompletionOption.ResponseHeadersRead, ct), ct).ConfigureAwait(false);
        var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            await body.CopyToAsync(destination, ct).ConfigureAwait(false);
        }
    }
}
