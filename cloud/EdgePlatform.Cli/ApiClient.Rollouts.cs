using System.Net.Http.Json;
using EdgePlatform.Contracts;

namespace EdgePlatform.Cli;

/// <summary>Staged rollouts and device tags.</summary>
public sealed partial class ApiClient
{
    public Task<RolloutInfo> CreateRolloutAsync(CreateRolloutRequest request, CancellationToken ct) =>
        PostAsync("api/v1/rollouts", request, ContractsJsonContext.Default.CreateRolloutRequest, ContractsJsonContext.Default.RolloutInfo, ct);

    public Task<IReadOnlyList<RolloutInfo>> ListRolloutsAsync(CancellationToken ct) =>
        GetAsync("api/v1/rollouts", ContractsJsonContext.Default.IReadOnlyListRolloutInfo, ct);

    public Task<RolloutInfo> GetRolloutAsync(string id, CancellationToken ct) =>
        GetAsync($"api/v1/rollouts/{Uri.EscapeDataString(id)}", ContractsJsonContext.Default.RolloutInfo, ct);

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
