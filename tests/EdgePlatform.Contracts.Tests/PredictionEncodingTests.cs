using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Ipc;

namespace EdgePlatform.Contracts.Tests;

public class PredictionEncodingTests
{
    private static readonly DateTimeOffset ScoredAt = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);

    [Fact]
    public void Serialize_BinaryPrediction_HasNoMulticlassFields()
    {
        var prediction = new Prediction("e1", "pump", "3", Arms.Control, true, 1.5f, 0.8f, 0.25, ScoredAt);

        var json = JsonSerializer.Serialize(prediction, ContractsJsonContext.Default.Prediction);

        Assert.Equal(
            """{"correlationId":"e1","model":"pump","modelVersion":"3","arm":"control","label":true,"score":1.5,"probability":0.8,"latencyMs":0.25,"scoredAt":"2023-11-14T22:13:20+00:00"}""",
            json);
    }

    [Fact]
    public void Serialize_MulticlassPrediction_CarriesClassAndProbabilities()
    {
        var prediction = new Prediction("e2", "machine", "1", Arms.Control, null, null, null, 0.5, ScoredAt)
        {
            Class = "fault",
            Probabilities = [0.1f, 0.2f, 0.7f],
        };

        var back = JsonSerializer.Deserialize(JsonSerializer.Serialize(prediction, ContractsJsonContext.Default.Prediction), ContractsJsonContext.Default.Prediction)!;

        Assert.Equal("fault", back.Class);
        Assert.Equal([0.1f, 0.2f, 0.7f], back.Probabilities);
    }

    [Fact]
    public void PredictionArrow_BinaryBatch_KeepsItsColumns()
    {
        var batch = Read(PredictionArrow.Serialize([new Prediction("e1", "pump", "3", Arms.Control, true, 1.5f, 0.8f, 0.25, ScoredAt)]));

        Assert.Equal(
            ["id", "model", "model_version", "arm", "label", "score", "probability", "latency_ms", "scored_at_ms"],
            batch.Schema.FieldsList.Select(f => f.Name));
    }

    [Fact]
    public void PredictionArrow_MulticlassBatch_AddsClassAndProbabilitiesColumns()
    {
        var predictions = new[]
        {
            new Prediction("e1", "machine", "1", Arms.Control, null, null, null, 0.5, ScoredAt) { Class = "idle", Probabilities = [0.6f, 0.3f, 0.1f] },
            new Prediction("e2", "machine", "1", Arms.Control, null, null, null, 0.5, ScoredAt) { Class = "fault", Probabilities = [0.1f, 0.2f, 0.7f] },
        };

        var batch = Read(PredictionArrow.Serialize(predictions));

        var classes = (StringArray)batch.Column("class");
        Assert.Equal(["idle", "fault"], [classes.GetString(0), classes.GetString(1)]);
        var probabilities = (ListArray)batch.Column("probabilities");
        var values = (FloatArray)probabilities.Values;
        Assert.Equal([0.1f, 0.2f, 0.7f], Enumerable.Range(probabilities.ValueOffsets[1], probabilities.GetValueLength(1)).Select(i => values.GetValue(i)!.Value));
    }

    private static RecordBatch Read(byte[] stream)
    {
        using var reader = new ArrowStreamReader(stream);
        return reader.ReadNextRecordBatch();
    }
}
