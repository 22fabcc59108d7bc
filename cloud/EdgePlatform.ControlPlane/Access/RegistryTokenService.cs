using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.Security.Tokens;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Access;

/// <summary>Registry token authentication settings (the CNCF distribution registry's <c>auth: token</c>).</summary>
public sealed class RegistryAuthOptions
{
    public const string Section = "RegistryAuth";

    /// <summary>The <c>service</c> a registry names in its challenge and expects as the token audience. Default edgeplatform-registry.</summary>
    [Required]
    public string Service { get; set; } = "edgeplatform-registry";

    /// <summary>Lifetime of a registry token. Default 300 s.</summary>
    [Range(10, 3600)]
    public int TokenSeconds { get; set; } = 300;
}

/// <summary>
/// The token endpoint of registry token authentication: trades a credential for a short-lived
/// registry token (ES256 JWT) that grants what the credential may do. An attested device's
/// attestation token grants <c>pull</c>; an operator API token grants <c>pull</c> with read
/// permission and <c>push</c> with train permission. The embedded registry checks the same
/// tokens, so one client flow works against it and against a distribution registry.
/// </summary>
public sealed partial class RegistryTokenService(
    AccessService access,
    AttestationService attestation,
    TokenSigner tokens,
    IOptions<RegistryAuthOptions> options,
    TimeProvider timeProvider,
    ILogger<RegistryTokenService> logger)
{
    public const string Pull = "pull";
    public const string Push = "push";

    /// <summary>How a device's registry tokens name their subject: <c>device:ID</c>.</summary>
    private const string DeviceSubjectPrefix = "device:";

    public string Service => options.Value.Service;

    /// <summary>
    /// A token for the requested <paramref name="scopes"/> (<c>repository:NAME:ACTIONS</c>), holding
    /// only the actions the credential allows. Throws <see cref="CredentialRejectedException"/>
    /// when the credential is missing or not valid.
    /// </summary>
    public async Task<RegistryTokenResponse> IssueAsync(string? credential, string? service, IReadOnlyList<string> scopes, CancellationToken cancellationToken)
    {
        if (service is not null && !string.Equals(service, Service, StringComparison.Ordinal))
        {
            throw new RequestValidationException("service", $"this control plane issues tokens for '{Service}', not '{service}'");
        }

        var (subject, allowed) = await AuthenticateAsync(credential, cancellationToken).ConfigureAwait(false);
        var access = new List<TokenAccess>();
        foreach (var scope in scopes)
        {
            var parts = scope.Split(':');
            if (parts.Length != 3 || parts[0] != "repository" || parts[1].Length == 0)
            {
                throw new RequestValidationException("scope", $"'{scope}' is not repository:NAME:ACTIONS");
            }

            var granted = parts[2].Split(',').Where(allowed.Contains).Distinct(StringComparer.Ordinal).ToList();
            access.Add(new TokenAccess("repository", parts[1], granted));
        }

        var now = timeProvider.GetUtcNow();
        var seconds = options.Value.TokenSeconds;
        var token = tokens.Issue(new TokenClaims(
            AttestationService.Issuer, subject, Service, now.ToUnixTimeSeconds(), now.ToUnixTimeSeconds(), now.AddSeconds(seconds).ToUnixTimeSeconds(),
            Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)), access));
        LogIssued(subject, access.Count);
        return new RegistryTokenResponse(token, token, seconds, now);
    }

    /// <summary>True when <paramref name="token"/> is a valid, unexpired registry token of this control plane.</summary>
    public bool Authenticated(string? token) => tokens.Validate(token, Service, timeProvider.GetUtcNow(), out _) is not null;

    /// <summary>Who a valid registry token was issued to (an operator token's name, or a device id); null for any other token.</summary>
    public string? SubjectOf(string? token) => tokens.Validate(token, Service, timeProvider.GetUtcNow(), out _)?.Subject;

    /// <summary>
    /// Null when <paramref name="token"/> is a valid registry token granting
    /// <paramref name="action"/> on <paramref name="repository"/> and, for a device's token, the
    /// device is still in good standing (a revoked device stops pulling at once, not when its
    /// token expires); otherwise why not.
    /// </summary>
    public async Task<string?> RefusalAsync(string? token, string repository, string action, CancellationToken cancellationToken)
    {
        var claims = tokens.Validate(token, Service, timeProvider.GetUtcNow(), out var reason);
        if (claims is null)
        {
            return reason;
        }

        if (claims.Access?.Any(a => a.Type == "repository" && a.Name == repository && a.Actions.Contains(action)) != true)
        {
            return $"the token does not grant {action} on '{repository}'";
        }

        if (claims.Subject.StartsWith(DeviceSubjectPrefix, StringComparison.Ordinal))
        {
            var (deviceId, standing) = await attestation.StandingAsync(claims.Subject[DeviceSubjectPrefix.Length..], cancellationToken).ConfigureAwait(false);
            return deviceId is null ? standing : null;
        }

        return null;
    }

    private async Task<(string Subject, HashSet<string> Actions)> AuthenticateAsync(string? credential, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(credential))
        {
            throw new CredentialRejectedException("a credential is required: an attestation token or an API token");
        }

        if (await access.AuthenticateAsync(credential, cancellationToken).ConfigureAwait(false) is { } person)
        {
            var actions = new HashSet<string>(StringComparer.Ordinal);
            if (OperatorRoles.Allows(person.Role, Permissions.Read))
            {
                actions.Add(Pull);
            }

            if (OperatorRoles.Allows(person.Role, Permissions.Train))
            {
                actions.Add(Push);
            }

            return (person.Name, actions);
        }

        var (deviceId, reason) = await attestation.ValidateTokenAsync(credential, cancellationToken).ConfigureAwait(false);
        if (deviceId is null)
        {
            LogRefused(reason);
            throw new CredentialRejectedException(reason);
        }

        return (DeviceSubjectPrefix + deviceId, [Pull]);
    }

    [LoggerMessage(EventId = 130, Level = LogLevel.Debug, Message = "Registry token for {Subject} over {Scopes} scope(s)")]
    private partial void LogIssued(string subject, int scopes);

    [LoggerMessage(EventId = 131, Level = LogLevel.Warning, Message = "Registry token refused: {Reason}")]
    private partial void LogRefused(string reason);
}
