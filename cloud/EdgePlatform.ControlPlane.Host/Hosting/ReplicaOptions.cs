using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;

namespace EdgePlatform.ControlPlane.Host.Hosting;

/// <summary>
/// Which control-plane replica this process is, among several that share one database and one
/// external broker: its broker session is named after it (so a replica that restarts with the
/// same id resumes the session and receives again what it had not acknowledged), and leases
/// record it as their holder.
/// </summary>
public sealed partial class ReplicaOptions
{
    public const string Section = "Replica";

    /// <summary>Characters that are safe in an MQTT client id, a file name and a log line alike.</summary>
    public const string IdPattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

    /// <summary>
    /// This replica's id: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.
    /// Give each replica a stable one (a StatefulSet pod name, say): a replica that comes back
    /// under another id leaves what its old broker session held there until the session expires
    /// (<c>Broker:SessionExpiry</c>). Default: the machine name and the process id, which is unique
    /// but changes on every start.
    /// </summary>
    [Required]
    [RegularExpression(IdPattern, ErrorMessage = "Replica:Id must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")]
    public string Id { get; set; } = DefaultId();

    private static string DefaultId()
    {
        var machine = NotAllowed().Replace(Environment.MachineName, "-").Trim('-', '.', '_');
        var id = $"{(machine.Length == 0 ? "replica" : machine)}-{Environment.ProcessId}";
        return id.Length <= 64 ? id : id[^64..].TrimStart('-', '.', '_');
    }

    [GeneratedRegex("[^A-Za-z0-9._-]+")]
    private static partial Regex NotAllowed();
}
