using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;

namespace EdgePlatform.Contracts;

/// <summary>
/// Predictions for the events of one Arrow record batch, published as one Arrow IPC stream
/// (<see cref="MediaTypes.ArrowStream"/>) on the local prediction topic: a producer that sends
/// batches gets batches back. Columns mirror <see cref="Prediction"/>; a batch with multiclass
/// predictions adds <c>class</c> (string) and <c>probabilities</c> (list of float32, in the card's class order).
/// </summary>
public static class PredictionArrow
{
    public const string SchemaId = "edgeplatform.predictions.v1";

    public static byte[] Serialize(IReadOnlyList<Prediction> predictions)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        var builder = new RecordBatch.Builder()
            .Append("id", true, column => column.String(values => AppendStrings(values, predictions, p => p.CorrelationId)))
            .Append("model", false, column => column.String(values => AppendStrings(values, predictions, p => p.Model)))
            .Append("model_version", false, column => column.String(values => AppendStrings(values, predictions, p => p.ModelVersion)))
            .Append("arm", false, column => column.String(values => AppendStrings(values, predictions, p => p.Arm)))
            .Append("label", true, column => column.Boolean(values =>
            {
                foreach (var prediction in predictions)
                {
                    if (prediction.Label is { } label) { values.Append(label); } else { values.AppendNull(); }
                }
            }))
            .Append("score", true, column => column.Float(values =>
            {
                foreach (var prediction in predictions)
                {
                    if (prediction.Score is { } score) { values.Append(score); } else { values.AppendNull(); }
                }
            }))
            .Append("probability", true, column => column.Float(values =>
            {
                foreach (var prediction in predictions)
                {
                    if (prediction.Probability is { } probability) { values.Append(probability); } else { values.AppendNull(); }
                }
            }))
            .Append("latency_ms", false, column => column.Double(values => values.AppendRange(predictions.Select(p => p.LatencyMs))))
            .Append("scored_at_ms", false, column => column.Int64(values => values.AppendRange(predictions.Select(p => p.ScoredAt.ToUnixTimeMilliseconds()))));
        if (predictions.Any(p => p.Class is not null || p.Probabilities is not null))
        {
            // Multiclass columns come only with multiclass predictions, so other models' batches keep their schema.
            builder
                .Append("class", true, column => column.String(values => AppendStrings(values, predictions, p => p.Class)))
                .Append("probabilities", true, ProbabilitiesColumn(predictions));
        }

        using var batch = builder.Build();
        using var buffer = new MemoryStream();
        using (var writer = new ArrowStreamWriter(buffer, batch.Schema, leaveOpen: true))
        {
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }

        return buffer.ToArray();
    }

    private static ListArray ProbabilitiesColumn(IReadOnlyList<Prediction> predictions)
    {
        var builder = new ListArray.Builder(FloatType.Default);
        var items = (FloatArray.Builder)builder.ValueBuilder;
        foreach (var prediction in predictions)
        {
            if (prediction.Probabilities is { } probabilities)
            {
                builder.Append();
                items.AppendRange(probabilities);
            }
            else
            {
                builder.AppendNull();
            }
        }

        return builder.Build();
    }

    private static void AppendStrings(StringArray.Builder values, IReadOnlyList<Prediction> predictions, Func<Prediction, string?> field)
    {
        foreach (var prediction in predictions)
        {
            var value = field(prediction);
            if (value is null)
            {
                values.AppendNull();
            }
            else
            {
                values.Append(value);
            }
        }
    }
}
