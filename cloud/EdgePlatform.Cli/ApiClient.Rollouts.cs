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
