using System.Text;
using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Types;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Contracts;
using EdgePlatform.Training;
using EdgePlatform.Training.Data;
using EdgePlatform.Training.Scoring;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.Agent.Inference.Tests.Engine;

/// <summary>
/// Weka's labor negotiations (numeric and nominal attributes, most rows with some missing) read
/// with the ARFF reader, trained with the default transforms (numeric gaps replaced by the mean
/// and indicated, categories one-hot encoded), exported, and scored by the agent's engine from raw
/// JSON events and from an Arrow batch (utf8 and dictionary-encoded strings, nullable numbers):
/// every row as ML.NET scores it.
/// </summary>
public sealed class MixedColumnEngineTests : IAsyncDisposable
{
    private const string LaborArff = "/usr/share/doc/weka/examples/labor.arff";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _stop = new();
    private readonly RecordingSink _sink = new();
    private Task? _running;

    [Fact]
    public async Task RunAsync_JsonAndArrowEventsWithCategoricalAndMissingFields_ScoreAsMlNet()
    {
        var (data, columns, rows) = LoadLabor();
        var trained = new ModelTrainer(TimeProvider.System).Train(
            new TrainingSpec
            {
                ModelName = "labor", ModelVersion = "1.0.0", Trainer = TrainerNames.LogisticRegression, FeatureColumns = data.FeatureColumns,
                LabelColumn = "class", TrainingRunId = "run-labor", DatasetName = "labor", CodeVersion = "test",
            },
            data);
        var inputs = trained.Card.Inputs.ToDictionary(i => i.Field);
        Assert.Equal(TensorElementTypes.String, inputs["pension"].ElementType);
        Assert.Equal(TensorElementTypes.Float32, inputs["duration"].ElementType);
        Assert.True(inputs["duration"].AcceptsMissing);
        Assert.Contains("duration: replace-missing + indicate-missing", trained.Card.Lineage.Parameters["transforms"], StringComparison.Ordinal);
        Assert.Contains(rows, row => row.Values.Any(v => v is null));

        var numeric = columns.Where(c => c.Kind.IsNumeric()).Select(c => c.Name).ToArray();
        var categorical = columns.Where(c => !c.Kind.IsNumeric()).Select(c => c.Name).ToArray();
        var expected = new MlNetScorer(trained.MlNetModel).Predict(
            [.. rows.Select(row => (IReadOnlyDictionary<string, float>)numeric.ToDictionary(n => n, n => row[n] is double d ? (float)d : float.NaN))],
            [.. rows.Select(row => (IReadOnlyDictionary<string, string?>)categorical.ToDictionary(n => n, n => (string?)row[n]))]);

        var path = Path.Combine(Path.GetTempPath(), $"labor-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, trained.OnnxModel);
        try
        {
            var engine = new InferenceEngine(new ModelHost(NullLogger<ModelHost>.Instance), new InferenceEngineOptions { MaxBatchSize = 16, MaxQueueDelayMs = 0 }, TimeProvider.System, NullLoggerFactory.Instance);
            engine.Control.Activate(LoadedModel.Load(trained.Card, path, new OnnxModelSettings()));
            _running = engine.RunAsync(_stop.Token);

            for (var i = 0; i < rows.Count; i++)
            {
                // Missing values are left out on even rows and sent as null on odd ones.
                var fields = rows[i].Where(f => f.Value is not null || i % 2 == 1).ToDictionary(f => f.Key, f => f.Value);
                fields["id"] = $"json-{i}";
                engine.TryEnqueue(InferenceEvent.FromJson(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(fields)), _sink, i));
            }

            using var batch = ArrowBatch(columns, rows);
            var arrowRows = new ArrowEventRows(batch);
            for (var i = 0; i < rows.Count; i++)
            {
                engine.TryEnqueue(InferenceEvent.FromRow(arrowRows, i, _sink, rows.Count + i));
            }

            await _sink.WaitForAsync(2 * rows.Count, Patience);

            Assert.Empty(_sink.Failed);
            foreach (var (state, scored) in _sink.Scored)
            {
                var row = (int)state! % rows.Count;
                Assert.True(Close(expected[row].Score, scored.Prediction.Score!.Value), $"row {row} ({scored.CorrelationId}): ML.NET {expected[row].Score:G9}, device {scored.Prediction.Score:G9}");
                Assert.True(Close(expected[row].Probability, scored.Prediction.Probability!.Value), $"row {row}: ML.NET {expected[row].Probability:G9}, device {scored.Prediction.Probability:G9}");
            }
        }
        finally
        {
            await _stop.CancelAsync();
            if (_running is not null)
            {
                await _running;
            }

            File.Delete(path);
        }
    }

    [Fact]
    public void Bind_NumericFieldWithoutImputation_StillRefusesAMissingValue()
    {
        var binder = new EventBinder(["duration", "wage"], ["pension"], ["duration"]);
        var features = new float[2];
        var strings = new string[1];

        binder.Bind("""{"wage": 4.5}"""u8, features, strings);
        Assert.True(float.IsNaN(features[0]));
        Assert.Equal(4.5f, features[1]);
        Assert.Equal(string.Empty, strings[0]);

        var missing = Assert.Throws<EventBindingException>(() => binder.Bind("""{"duration": 1, "pension": "none"}"""u8, features, strings));
        var nullValue = Assert.Throws<EventBindingException>(() => binder.Bind("""{"wage": null}"""u8, features, strings));

        Assert.Equal("field 'wage' is missing", missing.Message);
        Assert.Equal("field 'wage' is null, expected a number", nullValue.Message);
    }

    [Fact]
    public void Bind_ArrowColumnOfNumbersForAStringField_IsRefusedNamingTheField()
    {
        var binder = new EventBinder(["rpm"], ["color"]);
        using var batch = new RecordBatch.Builder()
            .Append("rpm", false, column => column.Float(values => values.Append(1460f)))
            .Append("color", false, column => column.Int32(values => values.Append(3)))
            .Build();

        var ex = Assert.Throws<EventBindingException>(() => new ArrowEventRows(batch).Bind(0, binder, new float[1], new string[1]));

        Assert.Equal("field 'color' is a column of int32, expected a string", ex.Message);
    }

    [Fact]
    public void Bind_RowsOfNumbersOnlyForAModelWithStringFields_AreRefusedNamingTheField()
    {
        IEventRows rows = new TensorEventRows(new Dictionary<string, float[]> { ["rpm"] = [1460f] }, rowCount: 1);

        var ex = Assert.Throws<EventBindingException>(() => rows.Bind(0, new EventBinder(["rpm"], ["color"]), new float[1], new string[1]));

        Assert.Equal("field 'color' is a string field, and these rows carry numbers only", ex.Message);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _stop.Dispose();
    }

    private static bool Close(float expected, float actual) =>
        Math.Abs(expected - actual) <= 1e-5 * Math.Max(1, Math.Max(Math.Abs(expected), Math.Abs(actual)));

    /// <summary>Numbers as nullable doubles; categorical columns alternately plain utf8 and dictionary-encoded.</summary>
    private static RecordBatch ArrowBatch(IReadOnlyList<DataColumn> columns, List<Dictionary<string, object?>> rows)
    {
        var fields = new List<Field>();
        var arrays = new List<IArrowArray>();
        var categorical = 0;
        foreach (var column in columns)
        {
            if (column.Kind.IsNumeric())
            {
                var builder = new DoubleArray.Builder();
                foreach (var row in rows)
                {
                    if (row[column.Name] is double value)
                    {
                        builder.Append(value);
                    }
                    else
                    {
                        builder.AppendNull();
                    }
                }

                fields.Add(new Field(column.Name, DoubleType.Default, nullable: true));
                arrays.Add(builder.Build());
            }
            else if (categorical++ % 2 == 0)
            {
                var builder = new StringArray.Builder();
                foreach (var row in rows)
                {
                    builder.Append((string?)row[column.Name]);
                }

                fields.Add(new Field(column.Name, StringType.Default, nullable: true));
                arrays.Add(builder.Build());
            }
            else
            {
                var values = column.Categories!;
                var dictionary = new StringArray.Builder().AppendRange(values).Build();
                var indices = new Int32Array.Builder();
                foreach (var row in rows)
                {
                    if (row[column.Name] is string value)
                    {
                        indices.Append(values.ToList().IndexOf(value));
                    }
                    else
                    {
                        indices.AppendNull();
                    }
                }

                var type = new DictionaryType(Int32Type.Default, StringType.Default, ordered: false);
                fields.Add(new Field(column.Name, type, nullable: true));
                arrays.Add(new DictionaryArray(type, indices.Build(), dictionary));
            }
        }

        return new RecordBatch(new Schema(fields, null), arrays, rows.Count);
    }

    private static (TabularDataset Data, IReadOnlyList<DataColumn> Features, List<Dictionary<string, object?>> Rows) LoadLabor()
    {
        if (!File.Exists(LaborArff))
        {
            throw new InvalidOperationException($"{LaborArff} is missing: install Weka's examples (apt-get install weka), as tests/run.sh does.");
        }

        var rows = new List<Dictionary<string, object?>>();
        IReadOnlyList<DataColumn> features;
        using (var reader = TabularFormats.Open(LaborArff))
        {
            var columns = reader.Schema.Columns;
            features = [.. columns.Where(c => c.Name != "class")];
            while (reader.ReadBatch() is { } batch)
            {
                for (var r = 0; r < batch.RowCount; r++)
                {
                    var row = new Dictionary<string, object?>(StringComparer.Ordinal);
                    for (var c = 0; c < columns.Count; c++)
                    {
                        if (columns[c].Name != "class")
                        {
                            row[columns[c].Name] = batch.Numbers[c] is { } numbers
                                ? double.IsNaN(numbers[r]) ? null : numbers[r]
                                : batch.Strings[c]![r];
                        }
                    }

                    rows.Add(row);
                }
            }
        }

        using var dataset = TabularFormats.Open(LaborArff);
        return (TabularDataset.FromReader(dataset, "class", ContentDigest.Compute(File.ReadAllBytes(LaborArff)), source: LaborArff), features, rows);
    }
}
