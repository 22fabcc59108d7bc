using EdgePlatform.ControlPlane.Access;
using EdgePlatform.ControlPlane.Rollouts;
using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Host.Apis;

/// <summary>Staged rollouts: operators change them, viewers read them; the audit log records every change.</summary>
public static class RolloutsApi
{
    public static IEndpointRouteBuilder MapRolloutsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/rollouts");
        var read = api.MapGroup(string.Empty).RequireAuthorization(Permissions.Read);
        var deploy = api.MapGroup(string.Empty).RequireAuthorization(Permissions.Deploy);
        deploy.MapPost(string.Empty, async (CreateRolloutRequest? request, HttpContext context, RolloutService rollouts, CancellationToken ct) =>
        {
            var rollout = await rollouts.CreateAsync(request, Actor(context), ct).ConfigureAwait(false);
            return TypedResults.Created($"/api/v1/rollouts/{rollout.Id}", rollout);
        });
        // Summaries: counts per device state and stage, no device lists, whatever the fleet's size.
        read.MapGet(string.Empty, async (RolloutService rollouts, CancellationToken ct) =>
            TypedResults.Ok(await rollouts.ListAsync(ct).ConfigureAwait(false)));
        read.MapGet("/{id}", async (string id, string? state, string? after, int? limit, RolloutService rollouts, CancellationToken ct) =>
            TypedResults.Ok(await rollouts.GetDetailAsync(id, state, after, limit, ct).ConfigureAwait(false)));
        deploy.MapPost("/{id}/pause", async (string id, HttpContext context, RolloutService rollouts, CancellationToken ct) =>
            TypedResults.Ok(await rollouts.PauseAsync(id, Actor(context), ct).ConfigureAwait(false)));
        deploy.MapPost("/{id}/resume", async (string id, HttpContext context, RolloutService rollouts, CancellationToken ct) =>
            TypedResults.Ok(await rollouts.ResumeAsync(id, Actor(context), ct).ConfigureAwait(false)));
        deploy.MapPost("/{id}/abort", async (string id, HttpContext context, RolloutService rollouts, CancellationToken ct) =>
            TypedResults.Ok(await rollouts.AbortAsync(id, Actor(context), ct).ConfigureAwait(false)));
        deploy.MapPost("/{id}/rollback", async (string id, HttpContext context, RolloutService rollouts, CancellationToken ct) =>
            TypedResults.Ok(await rollouts.RollbackAsync(id, Actor(context), ct).ConfigureAwait(false)));
        return app;
    }

    private static string Actor(HttpContext context) => context.User.Identity?.Name ?? "unknown";
}
