using System.Security.Cryptography;
using System.Text;

namespace EdgePlatform.Agent.Links;

/// <summary>
/// Who may log in to the embedded broker: the users of <c>LocalBroker:Users</c> and
/// <c>LocalBroker:PasswordFile</c> as sensors, and the agent under a password drawn at start that
/// never leaves the process. With no users configured, every client is let in as before.
/// </summary>
public sealed class LocalBrokerCredentials
{
    public const string AgentUserName = "edgeplatform-agent";

    private readonly Dictionary<string, BrokerPasswordHash> _sensors = new(StringComparer.Ordinal);
    private readonly byte[] _agentPasswordDigest;

    private LocalBrokerCredentials(bool required)
    {
        Required = required;
        AgentPassword = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        _agentPasswordDigest = SHA256.HashData(Encoding.UTF8.GetBytes(AgentPassword));
    }

    /// <summary>Whether a client must log in.</summary>
    public bool Required { get; }

    /// <summary>The agent's own password, for a client connection of its own to the embedded broker.</summary>
    public string AgentPassword { get; }

    /// <summary>The users the options name, the password file read now.</summary>
    /// <exception cref="InvalidOperationException">A line of the password file is not a user and a hash.</exception>
    public static LocalBrokerCredentials Load(LocalBrokerOptions options)
    {
        var credentials = new LocalBrokerCredentials(options.HasCredentials);
        foreach (var user in options.Users)
        {
            credentials.Add(user.Name, user.PasswordHash, "LocalBroker:Users");
        }

        if (!string.IsNullOrEmpty(options.PasswordFile))
        {
            var lineNumber = 0;
            foreach (var line in File.ReadLines(options.PasswordFile))
            {
                lineNumber++;
                if (line.Length == 0 || line.StartsWith('#'))
                {
                    continue;
                }

                var separator = line.IndexOf(':', StringComparison.Ordinal);
                credentials.Add(
                    separator < 0 ? line : line[..separator],
                    separator < 0 ? string.Empty : line[(separator + 1)..].Trim(),
                    $"LocalBroker:PasswordFile '{options.PasswordFile}' line {lineNumber}");
            }
        }

        return credentials;
    }

    /// <summary>What is wrong with a configured user, or null.</summary>
    public static string? Problem(string name, string passwordHash)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Contains(':', StringComparison.Ordinal))
        {
            return $"has name '{name}'; a user needs a name without ':'";
        }

        if (string.Equals(name, AgentUserName, StringComparison.Ordinal))
        {
            return $"is named '{AgentUserName}', which the agent keeps for itself";
        }

        return BrokerPasswordHash.TryParse(passwordHash, out _, out var error) ? null : $"'{name}': the password hash {error}";
    }

    /// <summary>The role of a client logging in with these credentials, or null to refuse it.</summary>
    public LocalBrokerRole? Authenticate(string? userName, ReadOnlySpan<byte> password)
    {
        if (string.Equals(userName, AgentUserName, StringComparison.Ordinal))
        {
            // Digests of equal length, so the comparison takes the same time whatever was sent.
            return CryptographicOperations.FixedTimeEquals(SHA256.HashData(password), _agentPasswordDigest)
                ? LocalBrokerRole.Agent
                : null;
        }

        if (!Required)
        {
            return LocalBrokerRole.Agent;
        }

        return userName is not null && _sensors.TryGetValue(userName, out var hash) && hash.Matches(password) ? LocalBrokerRole.Sensor : null;
    }

    private void Add(string name, string passwordHash, string source)
    {
        var problem = Problem(name, passwordHash);
        if (problem is not null || !BrokerPasswordHash.TryParse(passwordHash, out var hash, out _))
        {
            throw new InvalidOperationException($"{source}: user {problem}");
        }

        _sensors[name] = hash;
    }
}
