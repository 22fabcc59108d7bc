using System.ComponentModel.DataAnnotations;
using Microsoft.ML.OnnxRuntime;

namespace EdgePlatform.Agent.Inference;

/// <summary>How ONNX Runtime sessions are created for edge models.</summary>
public sealed class OnnxModelSettings
{
    /// <summary>
    /// Threads one inference may use. Defaults to 1: edge devices are small, scoring runs
    /// beside the agent's other work, and single-event latency gains little from more threads.
    /// 0 lets ONNX Runtime use every core.
    /// </summary>
    [Range(0, 1024)]
    public int IntraOpThreads { get; set; } = 1;

    /// <summary>Graph rewrites applied at load time. Defaults to all of them.</summary>
    public GraphOptimizationLevel GraphOptimizationLevel { get; set; } = GraphOptimizationLevel.ORT_ENABLE_ALL;
}
