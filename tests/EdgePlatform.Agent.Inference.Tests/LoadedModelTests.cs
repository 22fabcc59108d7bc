using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Inference.Tests;

[Collection(TestModelsGroup.Name)]
public sealed class LoadedModelTests(TestModels models)
{
    private const float Tolerance = 1e-5f;

    [Fact]
    public void Score_ScalarInputModel_MatchesMlNetPrediction()
    {
        using var model = models.LoadScalar();
        model.Warm();
        var expected = models.PredictScalarWithMlNet(models.TestRows);

        for (var i = 0; i < models.TestRows.Count; i++)
        {
            var result = model.Score(TestModels.EventJson(models.TestRows[i], $"evt-{i}"));

            Assert.Equal($"evt-{i}", result.CorrelationId);
            Assert.Equal(expected[i].PredictedLabel, result.Label);
            Assert.Equal(expected[i].Score, result.Score!.Value, Tolerance);
            Assert.Equal(expected[i].Probability, result.Probability!.Value, Tolerance);
        }

        // Both classes must occur, or label agreement says little.
        Assert.Contains(expected, prediction => prediction.PredictedLabel);
        Assert.Contains(expected, prediction => !prediction.PredictedLabel);
    }

    [Fact]
    public void Score_VectorInputModel_MatchesMlNetPrediction()
    {
        using var model = LoadedModel.Load(models.VectorCard, models.VectorModelPath, new OnnxModelSettings());
        var expected = models.PredictVectorWithMlNet(models.TestRows);

        for (var i = 0; i < models.TestRows.Count; i++)
        {
            var result = model.Score(TestModels.EventJson(models.TestRows[i], id: null));

            Assert.Null(result.CorrelationId);
            Assert.Equal(expected[i].PredictedLabel, result.Label);
            Assert.Equal(expected[i].Score, result.Score!.Value, Tolerance);
            Assert.Equal(expected[i].Probability, result.Probability!.Value, Tolerance);
        }
    }

    [Fact]
    public void Score_Event_ReportsModelIdentityFromCardAndFile()
    {
        using var model = models.LoadScalar("2.1.0");

        var result = model.Score(TestModels.EventJson(models.TestRows[0], "a"));

        Assert.Equal(new ModelIdentity("pump-failure", "2.1.0", ContentDigest.Compute(File.ReadAllBytes(models.ScalarModelPath))), result.Model);
    }

    [Fact]
    public void Score_CardWithoutScoreOutput_LeavesScoreNull()
    {
        var card = models.ScalarCard with { Outputs = [.. models.ScalarCard.Outputs.Where(output => output.Field != PredictionFields.Score)] };
        using var model = LoadedModel.Load(card, models.ScalarModelPath, new OnnxModelSettings());

        var result = model.Score(TestModels.EventJson(models.TestRows[0], "a"));

        Assert.Null(result.Score);
        Assert.NotNull(result.Probability);
        Assert.NotNull(result.Label);
    }

    [Fact]
    public void Score_EventMissingFeature_ThrowsEventBindingException()
    {
        using var model = models.LoadScalar();

        var error = Assert.Throws<EventBindingException>(() => model.Score("""{"temperature_c": 1, "pressure_kpa": 2}"""u8));

        Assert.Equal("field 'vibration_mm_s' is missing", error.Message);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(1)]
    [InlineData(17)]
    public void ScoreBatch_NRows_EqualsNSingleScores(int rowCount)
    {
        using var model = models.LoadScalar();
        var rows = models.TestRows.Take(rowCount).ToList();
        var features = new float[rowCount * model.FeatureCount];
        for (var i = 0; i < rowCount; i++)
        {
            model.Binder.Bind(TestModels.EventJson(rows[i], id: null), features.AsSpan(i * model.FeatureCount, model.FeatureCount));
        }

        var batch = new RowPrediction[rowCount];
        model.ScoreBatch(features, batch);

        for (var i = 0; i < rowCount; i++)
        {
            var single = model.Score(TestModels.EventJson(rows[i], id: null));
            AssertSamePrediction(single, batch[i]);
        }
    }

    [Fact]
    public void ScoreBatch_VectorInputModel_EqualsSingleScores()
    {
        using var model = LoadedModel.Load(models.VectorCard, models.VectorModelPath, new OnnxModelSettings());
        var rows = models.TestRows.Take(5).ToList();
        var features = rows.SelectMany(row => row.Values).ToArray();

        var batch = new RowPrediction[rows.Count];
        model.ScoreBatch(features, batch);

        for (var i = 0; i < rows.Count; i++)
        {
            var single = model.Score(TestModels.EventJson(rows[i], id: null));
            AssertSamePrediction(single, batch[i]);
        }
    }

    [Fact]
    public void ScoreBatch_FeatureCountNotMatchingRows_ThrowsArgumentException()
    {
        using var model = models.LoadScalar();

        Assert.Throws<ArgumentException>(() => model.ScoreBatch(new float[5], new RowPrediction[2]));
    }

    [Fact]
    public void Score_AfterDispose_ThrowsObjectDisposedException()
    {
        var model = models.LoadScalar();
        model.Dispose();

        Assert.Throws<ObjectDisposedException>(() => model.Score(TestModels.EventJson(models.TestRows[0], id: null)));
    }

    [Fact]
    public void Load_CardInputTheGraphLacks_ThrowsNamingInput()
    {
        var card = ReplaceInput(models.ScalarCard, TestModels.Pressure, input => input with { Name = "humidity_pct", Field = "humidity_pct" });

        var error = Assert.Throws<ModelLoadException>(() => LoadedModel.Load(card, models.ScalarModelPath, new OnnxModelSettings()));

        Assert.StartsWith("card input 'humidity_pct' is not an input of the graph", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_CardInputTypeDiffersFromGraph_ThrowsNamingInput()
    {
        var card = ReplaceInput(models.ScalarCard, TestModels.Vibration, input => input with { ElementType = TensorElementTypes.Float64 });

        var error = Assert.Throws<ModelLoadException>(() => LoadedModel.Load(card, models.ScalarModelPath, new OnnxModelSettings()));

        Assert.Equal("input 'vibration_mm_s' is float32 in the graph but float64 in the card", error.Message);
    }

    [Fact]
    public void Load_GraphInputTheCardDoesNotBind_ThrowsNamingInput()
    {
        var card = models.ScalarCard with { Inputs = [.. models.ScalarCard.Inputs.Where(input => input.Name != TestModels.Temperature)] };

        var error = Assert.Throws<ModelLoadException>(() => LoadedModel.Load(card, models.ScalarModelPath, new OnnxModelSettings()));

        Assert.Equal("graph input 'temperature_c' is not bound by the model card", error.Message);
    }

    [Fact]
    public void Load_CardShapeDiffersFromGraph_ThrowsNamingInput()
    {
        var card = ReplaceInput(models.VectorCard, "Features", input => input with { Shape = [-1, 2], Field = "a, b" });

        var error = Assert.Throws<ModelLoadException>(() => LoadedModel.Load(card, models.VectorModelPath, new OnnxModelSettings()));

        Assert.Equal("input 'Features' has shape [-1, 2] in the card but [-1, 3] in the graph", error.Message);
    }

    [Fact]
    public void Load_VectorInputWithTooFewFields_ThrowsNamingInput()
    {
        var card = ReplaceInput(models.VectorCard, "Features", input => input with { Field = "a, b" });

        var error = Assert.Throws<ModelLoadException>(() => LoadedModel.Load(card, models.VectorModelPath, new OnnxModelSettings()));

        Assert.StartsWith("input 'Features' has shape [-1, 3] but binds 2 event field(s)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_CardOutputTheGraphLacks_ThrowsNamingOutput()
    {
        var card = models.ScalarCard with
        {
            Outputs = [.. models.ScalarCard.Outputs.Select(output => output.Field == PredictionFields.Score ? output with { Name = "Margin" } : output)],
        };

        var error = Assert.Throws<ModelLoadException>(() => LoadedModel.Load(card, models.ScalarModelPath, new OnnxModelSettings()));

        Assert.StartsWith("card output 'Margin' is not an output of the graph", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_FileThatIsNotOnnx_ThrowsModelLoadException()
    {
        var path = Path.Combine(models.Directory, "not-a-model.onnx");
        File.WriteAllText(path, "this is not a protobuf");

        var error = Assert.Throws<ModelLoadException>(() => LoadedModel.Load(models.ScalarCard, path, new OnnxModelSettings()));

        Assert.StartsWith($"model file '{path}' is not a loadable ONNX model", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingFile_ThrowsModelLoadException()
    {
        var path = Path.Combine(models.Directory, "absent.onnx");

        var error = Assert.Throws<ModelLoadException>(() => LoadedModel.Load(models.ScalarCard, path, new OnnxModelSettings()));

        Assert.StartsWith($"model file '{path}' cannot be read", error.Message, StringComparison.Ordinal);
    }

    // A batch may run through different kernels than a single row (a matrix product, say),
    // so its sums can differ in the last bits.
    private static void AssertSamePrediction(ScoreResult single, RowPrediction batched)
    {
        Assert.Equal(single.Label, batched.Label);
        Assert.Equal(single.Score!.Value, batched.Score!.Value, Tolerance);
        Assert.Equal(single.Probability!.Value, batched.Probability!.Value, Tolerance);
    }

    private static ModelCard ReplaceInput(ModelCard card, string name, Func<ModelInput, ModelInput> change) =>
        card with { Inputs = [.. card.Inputs.Select(input => input.Name == name ? change(input) : input)] };
}
