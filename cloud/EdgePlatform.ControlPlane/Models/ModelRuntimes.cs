using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Models;

/// <summary>The <c>runtime</c> field of deployment, rollout and experiment requests.</summary>
public static class ModelRuntimes
{
    /// <summary>
    /// Null for in-process ONNX (absent, or <see cref="ModelRuntimeKinds.Onnx"/>),
    /// <see cref="ModelRuntimeKinds.Container"/> for the release's container image.
    /// </summary>
    /// <exception cref="RequestValidationException">Any other value, reported on <paramref name="field"/>.</exception>
    public static string? Parse(string? runtime, string field)
    {
        var value = runtime?.Trim();
        if (string.IsNullOrEmpty(value) || string.Equals(value, ModelRuntimeKinds.Onnx, StringComparison.Ordinal))
        {
            return null;
        }

        if (string.Equals(value, ModelRuntimeKinds.Container, StringComparison.Ordinal))
        {
            return ModelRuntimeKinds.Container;
        }

        throw new RequestValidationException(field, $"'{runtime}' is not a runtime; use one of {string.Join(", ", ModelRuntimeKinds.All)}");
    }
}
