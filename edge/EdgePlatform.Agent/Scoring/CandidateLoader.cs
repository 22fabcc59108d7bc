using System.Text.Json;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Scoring;

/// <summary>Applies the configured arm policy and, when one is configured, loads, warms and activates the candidate model.</summary>
public sealed partial class CandidateLoader(
    InferenceEngine engine,
    IOptions<ArmOptions> arms,
    IOptions<OnnxModelSettings> settings,
    ILoggerFactory loggerFactory,
    TimeProvider timeProvider) : BackgroundService
{
    private readonly ILogger _logger = loggerFactory.CreateLogger<CandidateLoader>();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var options = arms.Value;
        engine.SetArms(options.ToPolicy());
        if (string.IsNullOrEmpty(options.CandidateCard) || string.IsNullOrEmpty(options.CandidateModel))
        {
            return;
        }

        try
        {
            var cardBytes = await File.ReadAllBytesAsync(options.CandidateCard, stoppingToken).ConfigureAwait(false);
            var card = JsonSerializer.Deserialize(cardBytes, ContractsJsonContext.Default.ModelCard)
                ?? throw new ModelLoadException($"candidate card '{options.CandidateCard}' is empty");
            var model = await Task.Run(
                () =>
                {
                    var loaded = LoadedModel.Load(card, options.CandidateModel, settings.Value, loggerFactory.CreateLogger<LoadedModel>(), timeProvider);
                    loaded.Warm();
                    return loaded;
                },
                stoppingToken).ConfigureAwait(false);
            engine.Candidate.Activate(model);
        }
        catch (Exception ex) when (ex is ModelLoadException or IOException or JsonException or UnauthorizedAccessException)
        {
            // The control keeps serving alone; a bad candidate must not stop the device scoring.
            LogCandidateRefused(options.CandidateModel, ex.Message);
        }
    }

    [LoggerMessage(EventId = 2210, Level = LogLevel.Error, Message = "Candidate model {Path} not loaded; the control scores alone: {Reason}")]
    private partial void LogCandidateRefused(string path, string reason);
}
