using System.Globalization;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Access;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Training;
using Parquet.Serialization;

namespace EdgePlatform.ControlPlane.Host.Apis;

/// <summary>
/// Sweeps under <c>/api/v1/sweeps</c> (submit, list, show, stop, trials, Parquet export) and the
/// worker protocol (lease, heartbeat, report, snapshot download), which takes the <c>work</c>
/// permission that a <c>worker</c> token has and nothing else.
/// </summary>
public static class SweepsApi
{
    public const string ParquetMediaType = "application/vnd.apache.parquet";

    public static IEndpointRouteBuilder MapSweepsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1");
        var read = api.MapGroup(string.Empty).RequireAuthorization(Permissions.Read);
        var train = api.MapGroup(string.Empty).RequireAuthorization(Permissions.Train);
        var work = api.MapGroup(string.Empty).RequireAuthorization(Permissions.Work);

        train.MapPost("/sweeps", async (SweepSpec? spec, HttpContext context, SweepService sweeps, CancellationToken ct) =>
        {
            var sweep = await sweeps.SubmitAsync(spec, context.User.Identity?.Name ?? "unknown", ct).ConfigureAwait(false);
            return TypedResults.Accepted($"/api/v1/sweeps/{sweep.Id}", sweep);
        });
        read.MapGet("/sweeps", async (SweepService sweeps, CancellationToken ct) =>
            TypedResults.Ok(await sweeps.ListAsync(ct).ConfigureAwait(false)));
        read.MapGet("/sweeps/{id}", async (string id, SweepService sweeps, CancellationToken ct) =>
            TypedResults.Ok(await sweeps.GetAsync(id, ct).ConfigureAwait(false)));
        train.MapPost("/sweeps/{id}/stop", async (string id, SweepService sweeps, CancellationToken ct) =>
            TypedResults.Ok(await sweeps.StopAsync(id, ct).ConfigureAwait(false)));
        read.MapGet("/sweeps/{id}/trials", async (string id, HttpRequest request, SweepService sweeps, CancellationToken ct) =>
            TypedResults.Ok(await sweeps.QueryTrialsAsync(id, ParseQuery(request.Query), ct).ConfigureAwait(false)));
        read.MapGet("/sweeps/{id}/export", async (string id, HttpContext context, SweepService sweeps, CancellationToken ct) =>
        {
            var rows = new List<TrialRow>();
            var query = new TrialQuery(Limit: SweepService.MaxPageSize);
            while (true)
            {
                var page = await sweeps.QueryTrialsAsync(id, query, ct).ConfigureAwait(false);
                rows.AddRange(page.Items.Select(TrialRow.From));
                if (page.NextOffset is not { } next)
                {
                    break;
                }

                query = query with { Offset = next };
            }

            context.Response.ContentType = ParquetMediaType;
            context.Response.Headers.ContentDisposition = $"attachment; filename=\"{id}.parquet\"";
            using var buffer = new MemoryStream();
            await ParquetSerializer.SerializeAsync(rows, buffer, cancellationToken: ct).ConfigureAwait(false);
            buffer.Position = 0;
            await buffer.CopyToAsync(context.Response.Body, ct).ConfigureAwait(false);
        });
        read.MapGet("/workers", async (SweepService sweeps, CancellationToken ct) =>
            TypedResults.Ok(await sweeps.ListWorkersAsync(ct).ConfigureAwait(false)));

        work.MapPost("/workers/lease", async (TrialLeaseRequest? request, SweepService sweeps, CancellationToken ct) =>
            await sweeps.LeaseAsync(request, ct).ConfigureAwait(false) is { } lease
                ? Results.Ok(lease)
                : Results.NoContent());
        work.MapPost("/sweeps/{id}/trials/{number:int}/heartbeat", async (string id, int number, TrialHeartbeat? heartbeat, SweepService sweeps, CancellationToken ct) =>
            TypedResults.Ok(await sweeps.HeartbeatAsync(id, number, heartbeat, ct).ConfigureAwait(false)));
        work.MapPost("/sweeps/{id}/trials/{number:int}/report", async (string id, int number, TrialReport? report, SweepService sweeps, CancellationToken ct) =>
            TypedResults.Ok(await sweeps.ReportAsync(id, number, report, ct).ConfigureAwait(false)));
        work.MapGet("/workers/datasets/{digest}", async (string digest, SweepService sweeps, CancellationToken ct) =>
            await sweeps.OpenDatasetAsync(digest, ct).ConfigureAwait(false) is { } stream
                ? Results.Stream(stream, "application/octet-stream")
                : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"no running sweep trains on {digest}"));
        return app;
    }

    private static TrialQuery ParseQuery(IQueryCollection query)
    {
        double? Number(string name)
        {
            var text = query[name].ToString();
            if (text.Length == 0)
            {
                return null;
            }

            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value)
                ? value
                : throw new RequestValidationException(name, $"'{text}' is not a number");
        }

        int Whole(string name, int fallback)
        {
            var text = query[name].ToString();
            return text.Length == 0 ? fallback
                : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value
                : throw new RequestValidationException(name, $"'{text}' is not a whole number");
        }

        string? Text(string name) => query[name].ToString() is { Length: > 0 } text ? text : null;

        return new TrialQuery(
            Text("trainer"),
            Text("status"),
            Number("minScore"),
            Number("maxScore"),
            Text("param"),
            Number("paramMin"),
            Number("paramMax"),
            Text("sort") ?? "number",
            query["desc"].ToString() is "true" or "1",
            Whole("offset", 0),
            Whole("limit", 100));
    }

    // Column names are snake_case for notebooks; one column per metric, parameters as a JSON object.
#pragma warning disable CA1812, CA1707 // Rows are instantiated for the serializer; snake_case names become column names.
    private sealed class TrialRow
    {
        public string sweep_id { get; init; } = "";
        public int number { get; init; }
        public string trainer { get; init; } = "";
        public string parameters { get; init; } = "{}";
        public double fidelity { get; init; }
        public int seed { get; init; }
        public string status { get; init; } = "";
        public int attempt { get; init; }
        public string? worker_id { get; init; }
        public string? worker_build { get; init; }
        public double? score { get; init; }
        public double? duration_seconds { get; init; }
        public double? auc { get; init; }
        public double? accuracy { get; init; }
        public double? f1 { get; init; }
        public double? log_loss { get; init; }
        public double? macro_accuracy { get; init; }
        public double? micro_accuracy { get; init; }
        public double? rmse { get; init; }
        public double? mae { get; init; }
        public double? r2 { get; init; }
        public string? error { get; init; }
        public DateTime created_at { get; init; }
        public DateTime? finished_at { get; init; }

        public static TrialRow From(TrialInfo trial)
        {
            double? Metric(string name) => trial.Metrics is { } metrics && metrics.TryGetValue(name, out var value) ? value : null;
            return new TrialRow
            {
                sweep_id = trial.SweepId,
                number = trial.Number,
                trainer = trial.Trainer,
                parameters = JsonSerializer.Serialize(trial.Parameters.ToDictionary(StringComparer.Ordinal), ContractsJsonContext.Default.DictionaryStringDouble),
                fidelity = trial.Fidelity,
                seed = trial.Seed,
                status = trial.Status,
                attempt = trial.Attempt,
                worker_id = trial.WorkerId,
                worker_build = trial.WorkerBuild,
                score = trial.Score,
                duration_seconds = trial.DurationSeconds,
                auc = Metric(SweepMetrics.Auc),
                accuracy = Metric(SweepMetrics.Accuracy),
                f1 = Metric(SweepMetrics.F1),
                log_loss = Metric(SweepMetrics.LogLoss),
                macro_accuracy = Metric(SweepMetrics.MacroAccuracy),
                micro_accuracy = Metric(SweepMetrics.MicroAccuracy),
                rmse = Metric(SweepMetrics.Rmse),
                mae = Metric(SweepMetrics.Mae),
                r2 = Metric(SweepMetrics.RSquared),
                error = trial.Error,
                created_at = trial.CreatedAt.UtcDateTime,
                finished_at = trial.FinishedAt?.UtcDateTime,
            };
        }
    }
#pragma warning restore CA1812, CA1707
}
