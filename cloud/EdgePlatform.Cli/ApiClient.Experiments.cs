using EdgePlatform.Contracts;

namespace EdgePlatform.Cli;

/// <summary>A/B experiments between model versions: create, read, analyse, stop, promote, and the power calculator.</summary>
public sealed partial class ApiClient
{
    public Task<ExperimentInfo> CreateExperimentAsync(CreateExperimentRequest request, CancellationToken ct) =>
        PostAsync("api/v1/experiments", request, ContractsJsonContext.Default.CreateExperimentRequest, ContractsJsonContext.Default.ExperimentInfo, ct);

    public Task<IReadOnlyList<ExperimentInfo>> ListExperimentsAsync(CancellationToken ct) =>
        GetAsync("api/v1/experiments", ContractsJsonContext.Default.IReadOnlyListExperimentInfo, ct);

    public Task<ExperimentInfo> GetExperimentAsync(string id, CancellationToken ct) =>
        GetAsync($"api/v1/experiments/{Uri.EscapeDataString(id)}", ContractsJsonContext.Default.ExperimentInfo, ct);

    public Task<ExperimentReport> GetExperimentReportAsync(string id, CancellationToken ct) =>
        GetAsync($"api/v1/experiments/{Uri.EscapeDataString(id)}/report", ContractsJsonContext.Default.ExperimentReport, ct);

    public async Task<ExperimentInfo> StopExperimentAsync(string id, CancellationToken ct)
    {
        using var response = await SendAsync(() => _http.PostAsync($"api/v1/experiments/{Uri.EscapeDataString(id)}/stop", null, ct), ct).ConfigureAwait(false);
        return await ReadAsync(response, ContractsJsonContext.Default.ExperimentInfo, ct).ConfigureAwait(false);
    }

    /// <summary>Starts a staged rollout of the chosen (or the best) arm's model; answers with the rollout.</summary>
    public Task<RolloutInfo> PromoteExperimentAsync(string id, PromoteExperimentRequest request, CancellationToken ct) =>
        PostAsync($"api/v1/experiments/{Uri.EscapeDataString(id)}/promote", request, ContractsJsonContext.Default.PromoteExperimentRequest, ContractsJsonContext.Default.RolloutInfo, ct);

    public Task<PowerResult> ExperimentPowerAsync(PowerRequest request, CancellationToken ct) =>
        PostAsync("api/v1/experiments/power", request, ContractsJsonContext.Default.PowerRequest, ContractsJsonContext.Default.PowerResult, ct);
}
