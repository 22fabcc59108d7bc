namespace EdgePlatform.ControlPlane.Host.Tests;

/// <summary>A directory under the system temp folder, removed with its contents on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("edgeplatform-host-tests-device-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
