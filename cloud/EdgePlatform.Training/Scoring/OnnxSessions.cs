using Microsoft.ML.OnnxRuntime;

namespace EdgePlatform.Training.Scoring;

/// <summary>How the control plane opens an ONNX graph to describe, check or score it.</summary>
internal static class OnnxSessions
{
    /// <summary>
    /// A session that reports errors only: ONNX Runtime warns on stderr about shapes it merges
    /// leniently (ML.NET's one-hot outputs declare [-1, 1, N] where [-1, N] flows), which are
    /// harmless and would otherwise fill a sweep's output once per checked model.
    /// </summary>
    public static InferenceSession Open(byte[] onnxModel)
    {
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        return new InferenceSession(onnxModel, options);
    }
}
