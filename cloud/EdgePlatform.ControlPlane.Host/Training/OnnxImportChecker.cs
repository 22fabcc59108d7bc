using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Training;
using EdgePlatform.Training.Import;

namespace EdgePlatform.ControlPlane.Host.Training;

/// <summary>The <see cref="IImportedModelChecker"/> port over ONNX Runtime, holding samples to the parity rule trained models meet.</summary>
public sealed class OnnxImportChecker : IImportedModelChecker
{
    public ParityReport Check(ModelCard card, byte[] onnx, ModelImportSample sample)
    {
        try
        {
            return ImportedModelCheck.Check(card, onnx, sample, ParityTolerance.Default);
        }
        catch (ModelImportException ex)
        {
            throw new RequestValidationException(ex.Field, ex.Message);
        }
    }
}

public static class ImportCheckRegistration
{
    /// <summary>Checks imported models with ONNX Runtime in this process.</summary>
    public static WebApplicationBuilder AddOnnxImportChecks(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IImportedModelChecker, OnnxImportChecker>();
        return builder;
    }
}
