using System.Text.Json;
using EdgePlatform.ControlPlane.Host.Hosting;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace EdgePlatform.ControlPlane.Host.Apis;

/// <summary>Turns refusals into RFC 7807 problem details that say which field is wrong and why.</summary>
internal sealed class ApiExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var problem = exception switch
        {
            RequestValidationException v => new ValidationProblemDetails(new Dictionary<string, string[]> { [v.Field] = [v.Problem] })
            {
                Status = StatusCodes.Status400BadRequest,
                Title = "The request is not valid",
                Detail = v.Message,
            },
            NotFoundException => Problem(StatusCodes.Status404NotFound, "Not found", exception.Message),
            ConflictException => Problem(StatusCodes.Status409Conflict, "Conflict", exception.Message),
            CredentialRejectedException => Problem(StatusCodes.Status401Unauthorized, "Credential rejected", exception.Message),
            AttestationFailedException => Problem(StatusCodes.Status403Forbidden, "Attestation failed", exception.Message),
            EdgePlatform.Security.Tuf.TufVerificationException tuf => Problem(StatusCodes.Status422UnprocessableEntity, "Metadata refused", tuf.Message),
            EdgePlatform.Security.Tuf.TufFormatException format => Problem(StatusCodes.Status400BadRequest, "Metadata not well-formed", format.Message),
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => RequestLimits.BodyTooLarge(httpContext),
            BadHttpRequestException bad => Problem(bad.StatusCode, "The request could not be read", DescribeBadRequest(bad)),
            _ => null,
        };
        if (problem is null)
        {
            return false;
        }

        httpContext.Response.StatusCode = problem.Status ?? StatusCodes.Status400BadRequest;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = problem,
            Exception = exception,
        }).ConfigureAwait(false);
    }

    private static ProblemDetails Problem(int status, string title, string detail) =>
        new() { Status = status, Title = title, Detail = detail };

    // The JSON reader's message names the position of the problem; pass it on.
    private static string DescribeBadRequest(BadHttpRequestException exception) =>
        exception.InnerException is JsonException json
            ? $"the body is not valid JSON for this request: {json.Message}"
            : exception.Message;
}
