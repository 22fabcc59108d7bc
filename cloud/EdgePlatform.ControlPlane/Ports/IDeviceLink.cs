using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Ports;

/// <summary>The control plane's side of the device link (an MQTT broker, embedded or external).</summary>
public interface IDeviceLink
{
    /// <summary>
    /// Publishes the desired state retained, so a device that connects later still gets it. Called
    /// concurrently for many devices when a stage opens.
    /// </summary>
    Task PublishDesiredAsync(string deviceId, DesiredState desired, CancellationToken cancellationToken);
}

/// <summary>Sessions of devices on the broker the control plane runs (the embedded one).</summary>
public interface IDeviceSessions
{
    /// <summary>Closes the device's open session, if it has one.</summary>
    Task CloseAsync(string deviceId, CancellationToken cancellationToken);
}
