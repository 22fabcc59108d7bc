using System.Data.Common;
using Dapper;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Sweeps;

/// <summary>
/// Sweeps, the durable trial queue and workers. Each queue transition is one statement guarded by
/// status, owner and attempt; the dialects differ only in how a leaser claims the next trial
/// without two of them taking the same one, and in scalar and JSON functions.
/// </summary>
public abstract class SweepStore(StoreDatabase database) : ISweepStore
{
    protected const string TrialColumns =
        "sweep_id, number, trainer, parameters, fidelity, seed, status, proposed_after, attempt, lease_owner, lease_expires_ms, worker_id, worker_build, score, metrics, duration_seconds, log, error, completion_seq, created_at, finished_at";

    protected StoreDatabase Database { get; } = database ?? throw new ArgumentNullException(nameof(database));

    /// <summary>
    /// The condition that picks the oldest queued trial of a running sweep, claiming it so that
    /// no concurrent leaser picks it too.
    /// </summary>
    protected abstract string NextQueuedTrial { get; }

    /// <summary>The condition that picks leased trials whose lease ran out before <c>@now</c>.</summary>
    protected abstract string ExpiredLeases { get; }

    /// <summary>The larger of two values: SQLite's scalar MAX, PostgreSQL's GREATEST.</summary>
    protected abstract string Greatest { get; }

    /// <summary>
    /// A statement that makes concurrent completions of one sweep's trials (<c>@sweepId</c>) take
    /// turns, so each gets the next completion sequence; null where writes already do.
    /// </summary>
    protected abstract string? SerializeCompletions { get; }

    /// <summary>The transaction a lease runs in.</summary>
    protected abstract ValueTask<DbTransaction> BeginQueueTransactionAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>The number stored under <paramref name="keyParameter"/>'s key in a JSON column, null when absent.</summary>
    protected abstract string JsonNumber(string column, string keyParameter);

    /// <summary>The value bound to a <see cref="JsonNumber"/> key parameter for <paramref name="key"/>.</summary>
    protected abstract string JsonKey(string key);

    public async Task AddSweepAsync(SweepRecord sweep, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO sweeps (id, spec, status, dataset, dataset_digest, dataset_info, model_name, task, metric, created_by, created_at, finished_at, best_trial, best_score, model_version, manifest_digest, error)
            VALUES (@Id, @Spec, @Status, @Dataset, @DatasetDigest, @DatasetInfo, @ModelName, @Task, @Metric, @CreatedBy, @CreatedAt, @FinishedAt, @BestTrial, @BestScore, @ModelVersion, @ManifestDigest, @Error)
            """,
            SweepParameters(sweep),
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task UpdateSweepAsync(SweepRecord sweep, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE sweeps SET status = @Status, task = @Task, metric = @Metric, finished_at = @FinishedAt, best_trial = @BestTrial, best_score = @BestScore,
                model_version = @ModelVersion, manifest_digest = @ManifestDigest, error = @Error
            WHERE id = @Id
            """,
            SweepParameters(sweep),
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    private static object SweepParameters(SweepRecord sweep) => new
    {
        sweep.Id,
        Spec = Json(sweep.Spec, ContractsJsonContext.Default.SweepSpec),
        sweep.Status,
        Dataset = sweep.Dataset.Name,
        DatasetDigest = sweep.Dataset.Digest,
        DatasetInfo = Json(sweep.Dataset, ContractsJsonContext.Default.DatasetInfo),
        sweep.ModelName,
        sweep.Task,
        sweep.Metric,
        sweep.CreatedBy,
        CreatedAt = Time(sweep.CreatedAt),
        FinishedAt = sweep.FinishedAt is { } finished ? Time(finished) : null,
        sweep.BestTrial,
        sweep.BestScore,
        sweep.ModelVersion,
        sweep.ManifestDigest,
        sweep.Error,
    };

    public async Task<SweepRecord?> GetSweepAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<SweepRow>(new CommandDefinition(
            "SELECT * FROM sweeps WHERE id = @id", new { id }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<SweepRecord>> ListSweepsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<SweepRow>(new CommandDefinition(
            "SELECT * FROM sweeps ORDER BY created_at DESC, id DESC", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToRecord())];
    }

    public async Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>>> CountTrialsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<(string SweepId, string Status, long Count)>(new CommandDefinition(
            "SELECT sweep_id, status, COUNT(*) FROM trials GROUP BY sweep_id, status", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return rows.GroupBy(r => r.SweepId, StringComparer.Ordinal).ToDictionary(
            g => g.Key,
            g => (IReadOnlyDictionary<string, int>)g.ToDictionary(r => r.Status, r => (int)r.Count, StringComparer.Ordinal),
            StringComparer.Ordinal);
    }

    public async Task AddTrialAsync(TrialRecord trial, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(trial);
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO trials (sweep_id, number, trainer, parameters, fidelity, seed, status, proposed_after, attempt, created_at, queued_ms)
            VALUES (@SweepId, @Number, @Trainer, @Parameters, @Fidelity, @Seed, @Status, @ProposedAfter, 0, @CreatedAt, @QueuedMs)
            """,
            new
            {
                trial.SweepId,
                trial.Number,
                trial.Trainer,
                Parameters = Json(trial.Parameters.ToDictionary(StringComparer.Ordinal), ContractsJsonContext.Default.DictionaryStringDouble),
                trial.Fidelity,
                trial.Seed,
                Status = TrialStatuses.Queued,
                trial.ProposedAfter,
                CreatedAt = Time(trial.CreatedAt),
                QueuedMs = trial.CreatedAt.ToUnixTimeMilliseconds(),
            },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<TrialRecord?> GetTrialAsync(string sweepId, int number, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<TrialRow>(new CommandDefinition(
            $"SELECT {TrialColumns} FROM trials WHERE sweep_id = @sweepId AND number = @number", new { sweepId, number }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<TrialRecord?> LeaseTrialAsync(string workerId, string build, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await BeginQueueTransactionAsync(connection, cancellationToken).ConfigureAwait(false);
        await RequeueExpiredAsync(connection, transaction, now, cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<TrialRow>(new CommandDefinition(
            $"""
            UPDATE trials SET status = 'leased', attempt = attempt + 1, lease_owner = @workerId, lease_expires_ms = @expires, worker_id = @workerId, worker_build = @build
            WHERE {NextQueuedTrial} AND status = 'queued'
            RETURNING {TrialColumns}
            """,
            new { workerId, build, expires = expiresAt.ToUnixTimeMilliseconds() },
            transaction,
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<bool> ExtendLeaseAsync(string sweepId, int number, string workerId, int attempt, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var changed = await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE trials SET lease_expires_ms = @expires
            WHERE sweep_id = @sweepId AND number = @number AND status = 'leased' AND lease_owner = @workerId AND attempt = @attempt
            """,
            new { sweepId, number, workerId, attempt, expires = expiresAt.ToUnixTimeMilliseconds() },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return changed == 1;
    }

    public async Task<bool> CompleteTrialAsync(string sweepId, int number, string workerId, int attempt, TrialResultRecord result, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(result);
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        if (SerializeCompletions is { } serialize)
        {
            await connection.ExecuteAsync(new CommandDefinition(serialize, new { sweepId }, transaction, cancellationToken: cancellationToken)).ConfigureAwait(false);
        }

        // One statement: the guard on status, owner and attempt makes a second report of the
        // same lease, or a late one from a lease that was lost, change nothing.
        var changed = await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE trials SET status = @status, score = @score, metrics = @metrics, duration_seconds = @duration, log = @log, error = @error,
                finished_at = @finished, lease_owner = NULL, lease_expires_ms = NULL,
                completion_seq = (SELECT COALESCE(MAX(completion_seq), 0) + 1 FROM trials WHERE sweep_id = @sweepId)
            WHERE sweep_id = @sweepId AND number = @number AND status = 'leased' AND lease_owner = @workerId AND attempt = @attempt
            """,
            new
            {
                sweepId,
                number,
                workerId,
                attempt,
                status = result.Error is null ? TrialStatuses.Succeeded : TrialStatuses.Failed,
                score = result.Error is null ? result.Score : null,
                metrics = result.Metrics is null ? null : Json(result.Metrics.ToDictionary(StringComparer.Ordinal), ContractsJsonContext.Default.DictionaryStringDouble),
                duration = result.DurationSeconds,
                log = result.Log,
                error = result.Error,
                finished = Time(result.FinishedAt),
            },
            transaction,
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return changed == 1;
    }

    public async Task<int> RequeueExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await BeginQueueTransactionAsync(connection, cancellationToken).ConfigureAwait(false);
        var requeued = await RequeueExpiredAsync(connection, transaction, now, cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return requeued;
    }

    private Task<int> RequeueExpiredAsync(DbConnection connection, DbTransaction transaction, DateTimeOffset now, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            $"UPDATE trials SET status = 'queued', lease_owner = NULL, lease_expires_ms = NULL WHERE {ExpiredLeases}",
            new { now = now.ToUnixTimeMilliseconds() },
            transaction,
            cancellationToken: cancellationToken));

    public async Task<int> CancelTrialsAsync(string sweepId, bool includeLeased, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteAsync(new CommandDefinition(
            $"""
            UPDATE trials SET status = 'cancelled', lease_owner = NULL, lease_expires_ms = NULL, finished_at = @finished
            WHERE sweep_id = @sweepId AND status IN ('queued'{(includeLeased ? ", 'leased'" : "")})
            """,
            new { sweepId, finished = Time(now) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<TrialRecord>> ListTrialsAsync(string sweepId, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<TrialRow>(new CommandDefinition(
            $"SELECT {TrialColumns} FROM trials WHERE sweep_id = @sweepId ORDER BY number", new { sweepId }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToRecord())];
    }

    public async Task<(IReadOnlyList<TrialRecord> Items, int Total)> QueryTrialsAsync(string sweepId, TrialQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var where = new List<string> { "sweep_id = @sweepId" };
        var parameters = new DynamicParameters();
        parameters.Add("sweepId", sweepId);
        if (query.Trainer is not null)
        {
            where.Add("trainer = @trainer");
            parameters.Add("trainer", query.Trainer);
        }

        if (query.Status is not null)
        {
            where.Add("status = @status");
            parameters.Add("status", query.Status);
        }

        if (query.MinScore is { } minScore)
        {
            where.Add("score >= @minScore");
            parameters.Add("minScore", minScore);
        }

        if (query.MaxScore is { } maxScore)
        {
            where.Add("score <= @maxScore");
            parameters.Add("maxScore", maxScore);
        }

        if (query.Parameter is not null)
        {
            parameters.Add("parameterKey", JsonKey(query.Parameter));
            var parameter = JsonNumber("parameters", "@parameterKey");
            where.Add($"{parameter} IS NOT NULL");
            if (query.ParameterMin is { } parameterMin)
            {
                where.Add($"{parameter} >= @parameterMin");
                parameters.Add("parameterMin", parameterMin);
            }

            if (query.ParameterMax is { } parameterMax)
            {
                where.Add($"{parameter} <= @parameterMax");
                parameters.Add("parameterMax", parameterMax);
            }
        }

        var direction = query.Descending ? "DESC" : "ASC";
        string orderBy;
        switch (query.Sort)
        {
            case "number":
                orderBy = $"number {direction}";
                break;
            case "score":
                orderBy = $"score IS NULL, score {direction}, number";
                break;
            case "duration":
                orderBy = $"duration_seconds IS NULL, duration_seconds {direction}, number";
                break;
            default:
                parameters.Add("sortKey", JsonKey(query.Sort));
                var metric = JsonNumber("metrics", "@sortKey");
                orderBy = $"{metric} IS NULL, {metric} {direction}, number";
                break;
        }

        var filter = string.Join(" AND ", where);
        parameters.Add("limit", query.Limit);
        parameters.Add("offset", query.Offset);
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT COUNT(*) FROM trials WHERE {filter}", parameters, cancellationToken: cancellationToken)).ConfigureAwait(false);
        var rows = await connection.QueryAsync<TrialRow>(new CommandDefinition(
            $"SELECT {TrialColumns} FROM trials WHERE {filter} ORDER BY {orderBy} LIMIT @limit OFFSET @offset", parameters, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return ([.. rows.Select(r => r.ToRecord())], (int)total);
    }

    public async Task<IReadOnlyList<TrialRecord>> ListCompletedSinceAsync(string sweepId, long afterSequence, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<TrialRow>(new CommandDefinition(
            $"SELECT {TrialColumns} FROM trials WHERE sweep_id = @sweepId AND completion_seq > @afterSequence ORDER BY completion_seq",
            new { sweepId, afterSequence },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => r.ToRecord())];
    }

    public async Task<int> CountQueuedAsync(CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return (int)await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM trials WHERE status = 'queued'", cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task TouchWorkerAsync(string workerId, string? build, int? slots, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            build is null || slots is null
                ? $"UPDATE workers SET last_seen_ms = {Greatest}(last_seen_ms, @now) WHERE id = @workerId"
                : $"""
            INSERT INTO workers (id, build, slots, last_seen_ms) VALUES (@workerId, @build, @slots, @now)
            ON CONFLICT (id) DO UPDATE SET build = excluded.build, slots = excluded.slots, last_seen_ms = {Greatest}(workers.last_seen_ms, excluded.last_seen_ms)
            """,
            new { workerId, build, slots, now = now.ToUnixTimeMilliseconds() },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<WorkerRecord>> ListWorkersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<(string Id, string Build, long Slots, long LastSeenMs)>(new CommandDefinition(
            "SELECT id, build, slots, last_seen_ms FROM workers ORDER BY id", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => new WorkerRecord(r.Id, r.Build, (int)r.Slots, DateTimeOffset.FromUnixTimeMilliseconds(r.LastSeenMs)))];
    }

#pragma warning disable CA1812 // Instantiated by Dapper.
    private sealed class SweepRow
    {
        public string Id { get; set; } = "";
        public string Spec { get; set; } = "{}";
        public string Status { get; set; } = "";
        public string Dataset { get; set; } = "";
        public string DatasetDigest { get; set; } = "";
        public string DatasetInfo { get; set; } = "{}";
        public string ModelName { get; set; } = "";
        public string? Task { get; set; }
        public string? Metric { get; set; }
        public string CreatedBy { get; set; } = "";
        public string CreatedAt { get; set; } = "";
        public string? FinishedAt { get; set; }
        public long? BestTrial { get; set; }
        public double? BestScore { get; set; }
        public string? ModelVersion { get; set; }
        public string? ManifestDigest { get; set; }
        public string? Error { get; set; }

        public SweepRecord ToRecord() => new(
            Id,
            FromJson(Spec, ContractsJsonContext.Default.SweepSpec),
            Status,
            FromJson(DatasetInfo, ContractsJsonContext.Default.DatasetInfo),
            ModelName,
            CreatedBy,
            ParseTime(CreatedAt),
            Task,
            Metric,
            FinishedAt is null ? null : ParseTime(FinishedAt),
            BestTrial is { } best ? (int)best : null,
            BestScore,
            ModelVersion,
            ManifestDigest,
            Error);
    }

    private sealed class TrialRow
    {
        public string SweepId { get; set; } = "";
        public long Number { get; set; }
        public string Trainer { get; set; } = "";
        public string Parameters { get; set; } = "{}";
        public double Fidelity { get; set; }
        public long Seed { get; set; }
        public string Status { get; set; } = "";
        public long ProposedAfter { get; set; }
        public long Attempt { get; set; }
        public string? LeaseOwner { get; set; }
        public long? LeaseExpiresMs { get; set; }
        public string? WorkerId { get; set; }
        public string? WorkerBuild { get; set; }
        public double? Score { get; set; }
        public string? Metrics { get; set; }
        public double? DurationSeconds { get; set; }
        public string? Log { get; set; }
        public string? Error { get; set; }
        public long? CompletionSeq { get; set; }
        public string CreatedAt { get; set; } = "";
        public string? FinishedAt { get; set; }

        public TrialRecord ToRecord() => new(
            SweepId,
            (int)Number,
            Trainer,
            FromJson(Parameters, ContractsJsonContext.Default.DictionaryStringDouble),
            Fidelity,
            (int)Seed,
            Status,
            (int)ProposedAfter,
            ParseTime(CreatedAt),
            (int)Attempt,
            LeaseOwner,
            LeaseExpiresMs is { } expires ? DateTimeOffset.FromUnixTimeMilliseconds(expires) : null,
            WorkerId,
            WorkerBuild,
            Score,
            Metrics is null ? null : FromJson(Metrics, ContractsJsonContext.Default.DictionaryStringDouble),
            DurationSeconds,
            Log,
            Error,
            CompletionSeq,
            FinishedAt is null ? null : ParseTime(FinishedAt));
    }
#pragma warning restore CA1812
}
