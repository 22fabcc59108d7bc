using System.Security.Cryptography;
using System.Threading.Channels;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Logging;

namespace EdgePlatform.ControlPlane.Training;

/// <summary>
/// Registers datasets and queues training runs. A run trains, exports to ONNX, checks parity
/// and is published as a signed model version by <see cref="TrainingWorker"/>.
/// </summary>
public sealed partial class TrainingService(
    ITrainingStore store,
    IArtifactStore artifacts,
    IModelTrainer trainer,
    ModelRegistry registry,
    TimeProvider timeProvider,
    ILogger<TrainingService> logger,
    IDatasetResolver? datasetVersions = null)
{
    public const string DefaultDataset = "sensor-anomaly";
    public const int DefaultSeed = 42;
    public const int MaxTrees = 10_000;
    public const int MaxLeaves = 1024;

    /// <summary>Trainers whose model is a tree ensemble that <see cref="TrainingRequest.Trees"/> and <see cref="TrainingRequest.Leaves"/> size.</summary>
    private static readonly string[] TreeTrainers = ["fasttree", "lightgbm"];

    private readonly Channel<TrainingJob> _queue = Channel.CreateUnbounded<TrainingJob>();

    internal ChannelReader<TrainingJob> Queue => _queue.Reader;

    public async Task<DatasetInfo> RegisterDatasetAsync(string name, string? label, ReadOnlyMemory<byte> csv, CancellationToken cancellationToken)
    {
        if (ModelNames.Describe(name) is { } problem)
        {
            throw new RequestValidationException("name", problem);
        }

        var existing = await store.GetDatasetAsync(name, cancellationToken).ConfigureAwait(false);
        var digest = ContentDigest.Compute(csv.Span);
        if (existing is not null)
        {
            return string.Equals(existing.Digest, digest, StringComparison.Ordinal)
                ? existing
                : throw new ConflictException($"dataset '{name}' already exists with other content ({existing.Digest})");
        }

        var info = trainer.DescribeDataset(name, label, csv, timeProvider.GetUtcNow());
        await artifacts.PutAsync(csv, cancellationToken).ConfigureAwait(false);
        await store.AddDatasetAsync(info, cancellationToken).ConfigureAwait(false);
        LogDatasetRegistered(name, info.Rows, info.Digest);
        return info;
    }

    public Task<IReadOnlyList<DatasetInfo>> ListDatasetsAsync(CancellationToken cancellationToken) =>
        store.ListDatasetsAsync(cancellationToken);

    public async Task<TrainingRunInfo> StartAsync(TrainingRequest? request, CancellationToken cancellationToken)
    {
        request ??= new TrainingRequest(null, null, null, null);
        var datasetName = string.IsNullOrWhiteSpace(request.Dataset) ? DefaultDataset : request.Dataset.Trim();
        // A name registered whole (PUT /datasets/{name}) trains as before; a versioned name, or
        // name@N, trains on that snapshot and the run and lineage name the version.
        var dataset = (datasetName.Contains('@', StringComparison.Ordinal) ? null : await store.GetDatasetAsync(datasetName, cancellationToken).ConfigureAwait(false))
            ?? (datasetVersions is null ? null : await datasetVersions.ResolveAsync(datasetName, cancellationToken).ConfigureAwait(false))
            ?? throw new NotFoundException($"dataset '{datasetName}' is not registered");

        var modelName = string.IsNullOrWhiteSpace(request.ModelName) ? dataset.Name.Split('@')[0] : request.ModelName.Trim();
        if (ModelNames.Describe(modelName) is { } problem)
        {
            throw new RequestValidationException("modelName", problem);
        }

        var trainerName = string.IsNullOrWhiteSpace(request.Trainer) ? trainer.Trainers[0] : request.Trainer.Trim();
        if (!trainer.Trainers.Contains(trainerName, StringComparer.Ordinal))
        {
            throw new RequestValidationException("trainer", $"unknown trainer '{trainerName}'; use one of: {string.Join(", ", trainer.Trainers)}");
        }

        if (request.Seed is < 0)
        {
            throw new RequestValidationException("seed", "must not be negative");
        }

        if ((request.Trees is not null || request.Leaves is not null) && !TreeTrainers.Contains(trainerName, StringComparer.Ordinal))
        {
            throw new RequestValidationException(request.Trees is not null ? "trees" : "leaves", $"sizes a tree ensemble; trainer '{trainerName}' has none (use {string.Join(" or ", TreeTrainers)})");
        }

        if (request.Trees is < 1 or > MaxTrees)
        {
            throw new RequestValidationException("trees", $"must be between 1 and {MaxTrees}");
        }

        if (request.Leaves is < 2 or > MaxLeaves)
        {
            throw new RequestValidationException("leaves", $"must be between 2 and {MaxLeaves}");
        }

        if (request.ParityTolerance is { } tolerance && (double.IsNaN(tolerance) || tolerance <= 0 || tolerance > 1))
        {
            throw new RequestValidationException("parityTolerance", "must be above 0 and at most 1 (the absolute part of the score or probability difference allowed between ML.NET and ONNX Runtime)");
        }

        if (request.ParityRelativeTolerance is { } relative && (double.IsNaN(relative) || relative < 0 || relative > 1))
        {
            throw new RequestValidationException("parityRelativeTolerance", "must be between 0 and 1 (the part of the allowed ML.NET/ONNX Runtime difference that grows with the value's magnitude)");
        }

        trainer.ValidateTransforms(dataset, request.Transforms);

        var now = timeProvider.GetUtcNow();
        var runId = $"run-{now:yyyyMMddHHmmss}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        var version = await registry.NextVersionAsync(modelName, cancellationToken).ConfigureAwait(false);
        var run = new TrainingRunInfo(runId, TrainingRunStatuses.Running, dataset.Name, modelName, trainerName, version, null, null, null, now, null);
        await store.SaveTrainingRunAsync(run, cancellationToken).ConfigureAwait(false);
        await _queue.Writer.WriteAsync(
            new TrainingJob(runId, dataset, modelName, version, trainerName, request.Seed ?? DefaultSeed, request.Trees, request.Leaves, request.ParityTolerance, request.ParityRelativeTolerance, request.Transforms), cancellationToken).ConfigureAwait(false);
        LogQueued(runId, modelName, dataset.Name, trainerName);
        return run;
    }

    public async Task<TrainingRunInfo> GetRunAsync(string id, CancellationToken cancellationToken) =>
        await store.GetTrainingRunAsync(id, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"training run '{id}' does not exist");

    public Task<IReadOnlyList<TrainingRunInfo>> ListRunsAsync(CancellationToken cancellationToken) =>
        store.ListTrainingRunsAsync(cancellationToken);

    /// <summary>Trains one queued job to a published model version, recording the outcome on the run.</summary>
    internal async Task RunJobAsync(TrainingJob job, CancellationToken cancellationToken)
    {
        var run = await GetRunAsync(job.RunId, cancellationToken).ConfigureAwait(false);
        try
        {
            var datasetStream = await artifacts.OpenReadAsync(job.Dataset.Digest, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"dataset blob {job.Dataset.Digest} is missing from the artifact store");
            TrainedModel trained;
            await using (datasetStream.ConfigureAwait(false))
            {
                trained = await trainer.TrainAsync(job, datasetStream, cancellationToken).ConfigureAwait(false);
            }

            var published = await registry.PublishAsync(trained, cancellationToken).ConfigureAwait(false);
            run = run with
            {
                Status = TrainingRunStatuses.Succeeded,
                ModelVersion = published.Version,
                ManifestDigest = published.ManifestDigest,
                Metrics = published.Metrics,
                FinishedAt = timeProvider.GetUtcNow(),
            };
            LogSucceeded(job.RunId, published.Name, published.Version);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            run = run with { Status = TrainingRunStatuses.Failed, Error = ex.Message, FinishedAt = timeProvider.GetUtcNow() };
            LogFailed(job.RunId, ex);
        }

        await store.SaveTrainingRunAsync(run, CancellationToken.None).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "Dataset {Name} registered: {Rows} rows, {Digest}")]
    private partial void LogDatasetRegistered(string name, int rows, string digest);

    [LoggerMessage(EventId = 501, Level = LogLevel.Information, Message = "Training run {RunId} queued: model {ModelName} on {Dataset} with {Trainer}")]
    private partial void LogQueued(string runId, string modelName, string dataset, string trainer);

    [LoggerMessage(EventId = 502, Level = LogLevel.Information, Message = "Training run {RunId} published model {ModelName} version {Version}")]
    private partial void LogSucceeded(string runId, string modelName, string version);

    [LoggerMessage(EventId = 503, Level = LogLevel.Error, Message = "Training run {RunId} failed")]
    private partial void LogFailed(string runId, Exception exception);
}
