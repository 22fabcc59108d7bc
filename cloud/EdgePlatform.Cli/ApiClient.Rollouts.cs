using System.Net.Http.Json;
using EdgePlatform.Contracts;

namespace EdgePlatform.Cli;

/// <summary>Staged rollouts, model aliases and device tags.</summary>
public sealed partial class ApiClient
{
    public Task<RolloutInfo> CreateRolloutAsync(CreateRolloutRequest request, CancellationToken ct) =>
        PostAsync("api/v1/rollouts", request, ContractsJsonContext.Default.CreateRolloutRequest, ContractsJsonContext.Default.RolloutInfo, ct);

    public Task<IReadOnlyList<RolloutInfo>> ListRolloutsAsync(CancellationToken ct) =>
        GetAsync("api/v1/rollouts", ContractsJsonContext.Default.IReadOnlyListRolloutInfo, ct);

    /// <summary>The rollout and one page of its devices, only those in <paramref name="state"/> when given.</summary>
    public Task<RolloutDetail> GetRolloutAsync(string id, string? state, int limit, string? after, CancellationToken ct)
    {
        var query = QueryString(new Dictionary<string, string?>
        {
            ["state"] = state,
            ["limit"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["after"] = after,
        });
        return GetAsync($"api/v1/rollouts/{Uri.EscapeDataString(id)}?{query}", ContractsJsonContext.Default.RolloutDetail, ct);
    }

    /// <summary>The rollout's summary: state, stage and counts per device state, without devices.</summary>
    public async Task<RolloutInfo> GetRolloutAsync(string id, CancellationToken ct) =>
        (await GetRolloutAsync(id, state: null, limit: 1, after: null, ct).ConfigureAwait(false)).Rollout;

    /// <summary>Every device of the rollout (only those in <paramref name="state"/> when given), read page by page.</summary>
    public async Task<IReadOnlyList<RolloutDevice>> ListRolloutDevicesAsync(string id, string? state, CancellationToken ct)
    {
        const int PageSize = 1000;
        var devices = new List<RolloutDevice>();
        string? after = null;
        do
        {
            var page = await GetRolloutAsync(id, state, PageSize, after, ct).ConfigureAwait(false);
            devices.AddRange(page.Devices);
            after = page.NextAfter;
        }
        while (after is not null);

        return devices;
    }

    public async Task<ModelAlias> SetModelAliasAsync(string name, string alias, string version, CancellationToken ct)
    {
        using var response = await SendAsync(
            () => _http.PutAsJsonAsync(
                $"api/v1/models/{Uri.EscapeDataString(name)}/aliases/{Uri.EscapeDataString(alias)}",
                new SetModelAliasRequest(version),
                ContractsJsonContext.Default.SetModelAliasRequest,
                ct),
            ct).ConfigureAwait(false);
        return await ReadAsync(response, ContractsJsonContext.Default.ModelAlias, ct).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<ModelAlias>> ListModelAliasesAsync(string name, CancellationToken ct) =>
        GetAsync($"api/v1/models/{Uri.EscapeDataString(name)}/aliases", ContractsJsonContext.Default.IReadOnlyListModelAlias, ct);

    /// <summary>Sends pause, resume, abort or rollback.</summary>
    public async Task<RolloutInfo> ChangeRolloutAsync(string id, string action, CancellationToken ct)
    {
        using var response = await SendAsync(() => _http.PostAsync($"api/v1/rollouts/{Uri.EscapeDataString(id)}/{action}", null, ct), ct).ConfigureAwait(false);
        return await ReadAsync(response, ContractsJsonContext.Default.RolloutInfo, ct).ConfigureAwait(false);
    }

    public async Task<DeviceInfo> SetDeviceTagsAsync(string id, IReadOnlyDictionary<string, string> tags, CancellationToken ct)
    {
        using var response = await SendAsync(
            () => _http.PutAsJsonAsync($"api/v1/devices/{Uri.EscapeDataString(id)}/tags", new SetTagsRequest(tags), ContractsJsonContext.Default.SetTagsRequest, ct),
            ct).ConfigureAwait(false);
        return await ReadAsync(response, ContractsJsonContext.Default.DeviceInfo, ct).ConfigureAwait(false);
    }
}
