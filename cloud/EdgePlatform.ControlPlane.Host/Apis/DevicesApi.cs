using EdgePlatform.ControlPlane.Access;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Host.Hosting;

namespace EdgePlatform.ControlPlane.Host.Apis;

public static class DevicesApi
{
    public static IEndpointRouteBuilder MapDevicesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1");
        var read = api.MapGroup(string.Empty).RequireAuthorization(Permissions.Read);
        var deploy = api.MapGroup(string.Empty).RequireAuthorization(Permissions.Deploy);
        var admin = api.MapGroup(string.Empty).RequireAuthorization(Permissions.ManageAccess);
        admin.MapPost("/enrollments", async (CreateEnrollmentGroupRequest? request, EnrollmentService enrollment, CancellationToken ct) =>
            TypedResults.Ok(await enrollment.CreateGroupAsync(request, ct).ConfigureAwait(false)));
        admin.MapGet("/enrollments", async (EnrollmentService enrollment, CancellationToken ct) =>
            TypedResults.Ok(await enrollment.ListGroupsAsync(ct).ConfigureAwait(false)));
        admin.MapDelete("/enrollments/{id}", async (string id, EnrollmentService enrollment, CancellationToken ct) =>
        {
            await enrollment.RevokeGroupAsync(id, ct).ConfigureAwait(false);
            return TypedResults.NoContent();
        });
        api.MapPost("/enrollments/devices", async (EnrollmentRequest? request, EnrollmentService enrollment, CancellationToken ct) =>
            TypedResults.Ok(await enrollment.EnrollAsync(request, ct).ConfigureAwait(false)))
            .RequireRateLimiting(RequestLimits.Unauthenticated);
        read.MapGet("/devices", async (FleetService fleet, CancellationToken ct) =>
            TypedResults.Ok(await fleet.ListAsync(ct).ConfigureAwait(false)));
        read.MapGet("/devices/{id}", async (string id, FleetService fleet, CancellationToken ct) =>
            TypedResults.Ok(await fleet.GetAsync(id, ct).ConfigureAwait(false)));
        deploy.MapPut("/devices/{id}/tags", async (string id, SetTagsRequest? request, HttpContext context, FleetService fleet, CancellationToken ct) =>
            TypedResults.Ok(await fleet.SetTagsAsync(id, request, context.User.Identity!.Name!, ct).ConfigureAwait(false)));
        deploy.MapPost("/devices/{id}/revoke", async (string id, HttpContext context, FleetService fleet, CancellationToken ct) =>
            TypedResults.Ok(await fleet.RevokeAsync(id, context.User.Identity!.Name!, ct).ConfigureAwait(false)));
        return app;
    }
}
