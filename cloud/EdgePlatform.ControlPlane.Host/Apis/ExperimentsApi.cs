using EdgePlatform.ControlPlane.Access;
using EdgePlatform.ControlPlane.Experiments;
using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Host.Apis;

/// <summary>
/// A/B experiments: they change which model devices run, so whoever may deploy changes them and
/// viewers read them; the audit log records every change.
/// </summary>
public static class ExperimentsApi
{
    public static IEndpointRouteBuilder MapExperimentsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/experiments");
        var read = api.MapGroup(string.Empty).RequireAuthorization(Permissions.Read);
        var deploy = api.MapGroup(string.Empty).RequireAuthorization(Permissions.Deploy);
        deploy.MapPost(string.Empty, async (CreateExperimentRequest? request, HttpContext context, ExperimentService experiments, CancellationToken ct) =>
        {
            var experiment = await experiments.CreateAsync(request, Actor(context), ct).ConfigureAwait(false);
            return TypedResults.Created($"/api/v1/experiments/{experiment.Id}", experiment);
        });
        read.MapGet(string.Empty, async (ExperimentService experiments, CancellationToken ct) =>
            TypedResults.Ok(await experiments.ListAsync(ct).ConfigureAwait(false)));
        // A calculation over the request alone: anyone who may read may plan an experiment.
        read.MapPost("/power", (PowerRequest? request) => TypedResults.Ok(ExperimentService.Power(request)));
        read.MapGet("/{id}", async (string id, ExperimentService experiments, CancellationToken ct) =>
            TypedResults.Ok(await experiments.GetAsync(id, ct).ConfigureAwait(false)));
        read.MapGet("/{id}/report", async (string id, ExperimentService experiments, CancellationToken ct) =>
            TypedResults.Ok(await experiments.GetReportAsync(id, ct).ConfigureAwait(false)));
        deploy.MapPost("/{id}/stop", async (string id, HttpContext context, ExperimentService experiments, CancellationToken ct) =>
            TypedResults.Ok(await experiments.StopAsync(id, Actor(context), ct).ConfigureAwait(false)));
        deploy.MapPost("/{id}/promote", async (string id, PromoteExperimentRequest? request, HttpContext context, ExperimentService experiments, CancellationToken ct) =>
            TypedResults.Ok(await experiments.PromoteAsync(id, request, Actor(context), ct).ConfigureAwait(false)));
        return app;
    }

    private static string Actor(HttpContext context) => context.User.Identity?.Name ?? "unknown";
}
