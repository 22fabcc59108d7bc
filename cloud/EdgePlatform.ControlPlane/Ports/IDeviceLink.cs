using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Ports;

/// <summary>The control plane's side of the device link (an MQTT broker, embedded or external).</summary>
public interface IDeviceLink
{
    /// <summary>Publishes the desired state retained, so a device that connects later still gets it.</summary>
    Task PublishDesiredAsync(string deviceId, DesiredState desired, CancellationToken cancellationToken);
}
