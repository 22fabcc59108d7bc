using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Ports;

/// <summary>Checks a model trained elsewhere with a model runtime before it is signed.</summary>
public interface IImportedModelChecker
{
    /// <summary>
    /// Loads <paramref name="onnx"/>, checks <paramref name="card"/> binds it as a device would, and
    /// scores <paramref name="sample"/>; returns what the sample showed. Throws
    /// <see cref="RequestValidationException"/> naming the field or sample row at fault.
    /// </summary>
    ParityReport Check(ModelCard card, byte[] onnx, ModelImportSample sample);
}
