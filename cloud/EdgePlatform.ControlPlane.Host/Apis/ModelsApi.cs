using EdgePlatform.ControlPlane.Access;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Deployments;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Host.Containers;
using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.ControlPlane.Training;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Apis;

public static class ModelsApi
{
    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1");
        var read = api.MapGroup(string.Empty).RequireAuthorization(Permissions.Read);
        var train = api.MapGroup(string.Empty).RequireAuthorization(Permissions.Train);
        var deploy = api.MapGroup(string.Empty).RequireAuthorization(Permissions.Deploy);
        var trust = api.MapGroup(string.Empty).RequireAuthorization(Permissions.ManageTrust);
        read.MapGet("/models", async (ModelRegistry registry, CancellationToken ct) =>
            TypedResults.Ok(await registry.ListAsync(ct).ConfigureAwait(false)));
        read.MapGet("/models/{name}", async (string name, ModelRegistry registry, CancellationToken ct) =>
            TypedResults.Ok((await registry.ResolveAsync(name, ct).ConfigureAwait(false)).ToInfo()));

        read.MapGet("/models/{name}/aliases", async (string name, ModelRegistry registry, CancellationToken ct) =>
            TypedResults.Ok(await registry.ListAliasesAsync(name, ct).ConfigureAwait(false)));

        // Moving an alias changes what later rollouts and deployments of name@alias install, as
        // publishing a version does, so it takes the permission that publishes versions.
        train.MapPut("/models/{name}/aliases/{alias}", async (string name, string alias, SetModelAliasRequest? request, HttpContext context, ModelRegistry registry, CancellationToken ct) =>
            TypedResults.Ok(await registry.SetAliasAsync(name, alias, request, context.User.Identity?.Name ?? "unknown", ct).ConfigureAwait(false)));

        // Importing publishes a signed version, as training does, so it takes the same permission.
        train.MapPost("/models/{name}/import", async (string name, HttpContext context, IOptions<ServerOptions> server, ModelImporter importer, CancellationToken ct) =>
        {
            RequestLimits.SetBodyLimit(context, server.Value.MaxModelImportBytes);
            ModelImportRequest? request;
            try
            {
                request = await System.Text.Json.JsonSerializer.DeserializeAsync(context.Request.Body, ContractsJsonContext.Default.ModelImportRequest, ct).ConfigureAwait(false);
            }
            catch (System.Text.Json.JsonException ex)
            {
                throw new RequestValidationException(string.IsNullOrEmpty(ex.Path) ? "body" : ex.Path.TrimStart('$', '.'), $"is not valid: {ex.Message}");
            }

            var record = await importer.ImportAsync(name, request, ct).ConfigureAwait(false);
            return TypedResults.Created($"/api/v1/models/{record.Name}:{record.Version}", record.ToInfo());
        });

        trust.MapPut("/models/{name}/versions/{version}/signature", async (string name, string version, HttpRequest request, ModelRegistry registry, CancellationToken ct) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, ct).ConfigureAwait(false);
            return TypedResults.Ok((await registry.ReplaceSignatureAsync(name, version, body.ToArray(), ct).ConfigureAwait(false)).ToInfo());
        });

        // Approving what devices run is a trust decision: the image lands in the signed targets entry.
        trust.MapPost("/models/{name}/versions/{version}/image", async (string name, string version, ModelContainerizer containerizer, CancellationToken ct) =>
            TypedResults.Ok(await containerizer.ContainerizeAsync(name, version, ct).ConfigureAwait(false)));

        deploy.MapPost("/deployments", async (CreateDeploymentRequest? request, DeploymentService deployments, CancellationToken ct) =>
        {
            var deployment = await deployments.CreateAsync(request, ct).ConfigureAwait(false);
            return TypedResults.Created($"/api/v1/deployments/{deployment.Id}", deployment);
        });
        read.MapGet("/deployments", async (DeploymentService deployments, CancellationToken ct) =>
            TypedResults.Ok(await deployments.ListAsync(ct).ConfigureAwait(false)));

        read.MapGet("/datasets", async (TrainingService training, CancellationToken ct) =>
            TypedResults.Ok(await training.ListDatasetsAsync(ct).ConfigureAwait(false)));
        train.MapPut("/datasets/{name}", async (string name, string? label, HttpRequest request, IOptions<ServerOptions> server, TrainingService training, CancellationToken ct) =>
        {
            RequestLimits.SetBodyLimit(request.HttpContext, server.Value.MaxDatasetUploadBytes);
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, ct).ConfigureAwait(false);
            if (body.Length == 0)
            {
                throw new RequestValidationException("body", "send the dataset as CSV with a header row");
            }

            return TypedResults.Ok(await training.RegisterDatasetAsync(name, label, body.ToArray(), ct).ConfigureAwait(false));
        });

        train.MapPost("/training-runs", async (TrainingRequest? request, TrainingService training, CancellationToken ct) =>
        {
            var run = await training.StartAsync(request, ct).ConfigureAwait(false);
            return TypedResults.Accepted($"/api/v1/training-runs/{run.Id}", run);
        });
        read.MapGet("/training-runs", async (TrainingService training, CancellationToken ct) =>
            TypedResults.Ok(await training.ListRunsAsync(ct).ConfigureAwait(false)));
        read.MapGet("/training-runs/{id}", async (string id, TrainingService training, CancellationToken ct) =>
            TypedResults.Ok(await training.GetRunAsync(id, ct).ConfigureAwait(false)));

        return app;
    }
}
