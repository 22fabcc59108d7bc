using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;

namespace EdgePlatform.ControlPlane.Host.Apis;

public static class DevicesApi
{
    public static IEndpointRouteBuilder MapDevicesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1");
        api.MapPost("/enrollments/devices", async (EnrollmentRequest? request, EnrollmentService enrollment, CancellationToken ct) =>
            TypedResults.Ok(await enrollment.EnrollAsync(request, ct).ConfigureAwait(false)));
        api.MapGet("/devices", async (FleetService fleet, CancellationToken ct) =>
            TypedResults.Ok(await fleet.ListAsync(ct).ConfigureAwait(false)));
        api.MapGet("/devices/{id}", async (string id, FleetService fleet, CancellationToken ct) =>
            TypedResults.Ok(await fleet.GetAsync(id, ct).ConfigureAwait(false)));
        return app;
    }
}
