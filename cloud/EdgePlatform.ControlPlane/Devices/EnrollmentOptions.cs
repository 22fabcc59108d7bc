using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.ControlPlane.Devices;

/// <summary>What enrolling devices are told and must prove.</summary>
public sealed class EnrollmentOptions
{
    public const string Section = "Enrollment";

    /// <summary>The group enrollment key a device must present. Created on first start when empty.</summary>
    [Required]
    [MinLength(16)]
    public string GroupKey { get; set; } = string.Empty;

    /// <summary>Broker host devices connect to.</summary>
    [Required]
    public string MqttHost { get; set; } = "127.0.0.1";

    [Range(1, 65535)]
    public int MqttPort { get; set; } = 8883;

    /// <summary>Base URL of the OCI registry devices pull models from.</summary>
    [Required]
    public string RegistryUrl { get; set; } = "http://127.0.0.1:5080";

    /// <summary>Base URL devices fetch signed trust metadata from (the control plane's).</summary>
    [Required]
    public string MetadataUrl { get; set; } = "http://127.0.0.1:5080";

    /// <summary>How long a device certificate is valid; a device re-enrolls to renew it. Default 365 days.</summary>
    [Range(1, 3650)]
    public int DeviceCertificateDays { get; set; } = 365;

    /// <summary>
    /// PEM bundle of manufacturer CAs whose certificates may enroll devices (the certificate's
    /// common name is the device id). Default: unset, only enrollment keys enroll.
    /// </summary>
    public string? BootstrapCaFile { get; set; }

    /// <summary>How often devices send telemetry unless a deployment says otherwise. Default 10 s.</summary>
    [Range(1, 3600)]
    public int TelemetryIntervalSeconds { get; set; } = 10;
}
