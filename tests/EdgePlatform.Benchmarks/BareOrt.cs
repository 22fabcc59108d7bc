using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;

namespace EdgePlatform.Benchmarks;

/// <summary>The baseline: <c>InferenceSession.Run</c> in a loop on inputs made once, with the agent's session options.</summary>
internal static class BareOrt
{
    public static PhaseResult Run(BenchModel model, int batch, TimeSpan duration)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        using var session = new InferenceSession(model.OnnxPath, options);
        using var runOptions = new RunOptions();
        var inputNames = model.Card.Inputs.Select(input => input.Name).ToArray();
        var outputNames = model.Card.Outputs.Select(output => output.Name).ToArray();
        var offset = 0;
        var inputs = new OrtValue[inputNames.Length];
        for (var i = 0; i < inputs.Length; i++)
        {
            var width = (int)model.Card.Inputs[i].Shape[1];
            var values = new float[batch * width];
            for (var row = 0; row < batch; row++)
            {
                model.Rows[row % model.Rows.Count].AsSpan(offset, width).CopyTo(values.AsSpan(row * width, width));
            }

            inputs[i] = OrtValue.CreateTensorValueFromMemory(values, [batch, width]);
            offset += width;
        }

        try
        {
            var latencies = new List<double>(1 << 20);
            long events = 0;
            var started = Stopwatch.GetTimestamp();
            var warmEnd = PhaseResult.MeasuredFrom(started, duration, TimeSpan.FromSeconds(0.5));
            var end = started + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            long measuredFrom = 0;
            while (true)
            {
                var before = Stopwatch.GetTimestamp();
                if (before >= end)
                {
                    break;
                }

                using (session.Run(runOptions, inputNames, inputs, outputNames))
                {
                }

                var after = Stopwatch.GetTimestamp();
                if (before >= warmEnd)
                {
                    measuredFrom = measuredFrom == 0 ? before : measuredFrom;
                    events += batch;
                    latencies.Add(Stopwatch.GetElapsedTime(before, after).TotalMilliseconds);
                }
            }

            var seconds = Stopwatch.GetElapsedTime(measuredFrom, end).TotalSeconds;
            return PhaseResult.From($"bare ORT, batch {batch}", events, events, events / seconds, latencies);
        }
        finally
        {
            foreach (var input in inputs)
            {
                input.Dispose();
            }
        }
    }
}
