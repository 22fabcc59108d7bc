using System.Reflection;
using EdgePlatform.Contracts;

namespace EdgePlatform.Training;

/// <summary>
/// The build a trial runs on: this library's version and the ML.NET and ONNX Runtime assemblies it
/// loaded. The control plane and its workers compute it the same way, so a mismatch means they
/// would train or score differently.
/// </summary>
public static class TrainingBuild
{
    public static WorkerBuild Current { get; } = new(
        Version(typeof(TrainingBuild).Assembly),
        Version(typeof(Microsoft.ML.MLContext).Assembly),
        Version(typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly));

    private static string Version(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString()
            ?? "unknown";
}
