using EdgePlatform.Contracts;
using EdgePlatform.Training.Datasets;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;

namespace EdgePlatform.Training.Tests;

[Collection(SharedSensorAnomalyModel.Name)]
public class ModelTrainerTests(SensorAnomalyModelFixture fixture)
{
    private static readonly string[] FeatureColumns = ["temperature_c", "vibration_mm_s", "pressure_bar", "rpm", "current_a"];

    [Fact]
    public void Train_FastTreeOnSensorAnomaly_SeparatesAnomaliesWell()
    {
        var metrics = fixture.Model.Card.Metrics;

        Assert.Equal(["auc", "accuracy", "f1", "precision", "recall", "parityMaxAbsDiff"], metrics.Keys);
        Assert.True(metrics["auc"] > 0.85, $"AUC {metrics["auc"]}");
        Assert.True(metrics["recall"] > 0.3, $"recall {metrics["recall"]}");
    }

    [Fact]
    public void Train_FastTreeOnSensorAnomaly_CardRecordsTheParityRuleAndItsWorstRow()
    {
        var parity = fixture.Model.Card.Parity;

        Assert.NotNull(parity);
        Assert.Equal(ParityTolerance.Rule, parity.Rule);
        Assert.Equal((ParityTolerance.DefaultAbsolute, ParityTolerance.DefaultRelative), (parity.AbsoluteTolerance, parity.RelativeTolerance));
        Assert.Equal(500, parity.RowsCompared);
        var worst = Assert.IsType<ParityRow>(parity.Worst);
        Assert.Contains(worst.Output, new[] { PredictionFields.Score, PredictionFields.Probability });
        Assert.InRange(worst.Line, 2, 4001);
        Assert.True(worst.Difference <= worst.Allowed, $"{worst.Difference} > {worst.Allowed}");
        Assert.Equal(ParityTolerance.Default.Allowed(worst.Trained, worst.OnnxRuntime), worst.Allowed);
        Assert.True(fixture.Model.Card.Metrics["parityMaxAbsDiff"] >= worst.Difference);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(42)]
    [InlineData(1234)]
    public void Train_FastTreeWithSeed_ScoresOfAnyMagnitudePassParity(int seed)
    {
        // Seed 7 gives margins near 26, where float32 steps are 1.9e-6: an absolute bound of 1e-5
        // failed there on some CPUs (a difference of 1.34e-5), though the graph was right.
        var model = new ModelTrainer(TimeProvider.System).Train(SensorAnomalyModelFixture.Spec() with { Seed = seed }, fixture.Data);

        var worst = model.Card.Parity?.Worst;
        Assert.NotNull(worst);
        Assert.True(worst.Difference <= worst.Allowed, $"{worst.Difference} > {worst.Allowed}");
    }

    [Fact]
    public void CheckParity_InputsBoundToFeaturesInAnotherOrder_RefusesTheExport()
    {
        var (model, featuresOnly, rows) = HeldOutScoring();
        var card = fixture.Model.Card;
        var inputs = card.Inputs;
        var rotated = card with { Inputs = [.. inputs.Select((input, i) => input with { Field = inputs[(i + 1) % inputs.Count].Field })] };

        var ex = Assert.Throws<ParityException>(() =>
            ModelTrainer.CheckParity(model, featuresOnly, fixture.Data, rows, fixture.Model.OnnxModel, rotated, ParityTolerance.Default));

        Assert.Contains("does not reproduce the model", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckParity_GraphWithoutTheNormalizer_RefusesTheExport()
    {
        var (model, featuresOnly, rows) = HeldOutScoring();
        // Concatenate → NormalizeMinMax → trees; the same trees fed raw features compute something else.
        Assert.Equal(3, model.Count());
        var withoutNormalizer = new TransformerChain<ITransformer>([.. model.Where((_, i) => i != 1)]);
        var onnx = ModelTrainer.ExportOnnx(new MLContext(seed: 1), withoutNormalizer, featuresOnly);

        var ex = Assert.Throws<ParityException>(() =>
            ModelTrainer.CheckParity(model, featuresOnly, fixture.Data, rows, onnx, fixture.Model.Card, ParityTolerance.Default));

        Assert.Contains(ex.Output, new[] { PredictionFields.Label, PredictionFields.Score, PredictionFields.Probability });
    }

    [Fact]
    public void CheckParity_TheExportedGraph_PassesWithRoomToSpare()
    {
        var (model, featuresOnly, rows) = HeldOutScoring();

        var (report, maxAbsDiff) = ModelTrainer.CheckParity(model, featuresOnly, fixture.Data, rows, fixture.Model.OnnxModel, fixture.Model.Card, ParityTolerance.Default);

        Assert.Equal(rows.Length, report.RowsCompared);
        Assert.True(report.Worst!.Difference <= report.Worst.Allowed);
        Assert.True(maxAbsDiff >= report.Worst.Difference);
    }

    [Fact]
    public void Train_FastTreeOnSensorAnomaly_CardInputsAreTheFiveFeaturesAsOnnxRuntimeReportsThem()
    {
        var card = fixture.Model.Card;

        Assert.Equal(FeatureColumns, card.Inputs.Select(i => i.Name));
        Assert.All(card.Inputs, input =>
        {
            Assert.Equal(input.Name, input.Field);
            Assert.Equal(TensorElementTypes.Float32, input.ElementType);
            Assert.Equal([-1L, 1L], input.Shape);
        });

        using var session = new InferenceSession(fixture.Model.OnnxModel);
        Assert.Equal(FeatureColumns, session.InputMetadata.Keys);
        Assert.All(session.InputMetadata.Values, metadata => Assert.Equal([-1, 1], metadata.Dimensions));
    }

    [Fact]
    public void Train_FastTreeOnSensorAnomaly_CardOutputsBindLabelScoreAndProbability()
    {
        var outputs = fixture.Model.Card.Outputs;

        Assert.Equal(
            [
                new("PredictedLabel.output", TensorElementTypes.Bool, [-1, 1], PredictionFields.Label),
                new("Score.output", TensorElementTypes.Float32, [-1, 1], PredictionFields.Score),
                new("Probability.output", TensorElementTypes.Float32, [-1, 1], PredictionFields.Probability),
            ],
            outputs,
            new ModelOutputComparer());

        using var session = new InferenceSession(fixture.Model.OnnxModel);
        Assert.Equal(outputs.Select(o => o.Name), session.OutputMetadata.Keys);
    }

    [Fact]
    public void Train_FastTreeOnSensorAnomaly_CardRecordsLineageBaselineAndCreationTime()
    {
        var card = fixture.Model.Card;
        using var shipped = new MemoryStream();
        using (var stream = BuiltInDatasets.SensorAnomaly.Open())
        {
            stream.CopyTo(shipped);
        }

        Assert.Equal(("pump-anomaly", "1.0.0", ModelTasks.BinaryClassification), (card.Name, card.Version, card.Task));
        Assert.Equal(SensorAnomalyModelFixture.TrainedAt, card.CreatedAt);
        Assert.Equal("run-0001", card.Lineage.TrainingRunId);
        Assert.Equal("sensor-anomaly", card.Lineage.DatasetName);
        Assert.Equal(ContentDigest.Compute(shipped.ToArray()), card.Lineage.DatasetDigest);
        Assert.Equal(4000, card.Lineage.DatasetRows);
        Assert.Equal("fasttree", card.Lineage.Trainer);
        Assert.Equal("test", card.Lineage.CodeVersion);
        Assert.Equal("100", card.Lineage.Parameters["trees"]);
        Assert.Equal("20", card.Lineage.Parameters["leaves"]);
        Assert.Equal("0.2", card.Lineage.Parameters["learningRate"]);
        Assert.Equal("42", card.Lineage.Parameters["seed"]);
        Assert.Equal("800", card.Lineage.Parameters["testRows"]);
        Assert.Equal(fixture.Data.Profile(), card.Baseline);
    }

    [Fact]
    public void Train_AnySpec_ReportsEachStageInOrder()
    {
        Assert.Equal(
            [TrainingStage.Splitting, TrainingStage.Fitting, TrainingStage.Evaluating, TrainingStage.ExportingOnnx, TrainingStage.CheckingParity, TrainingStage.Completed],
            fixture.Progress.Reports.Select(r => r.Stage));
    }

    [Fact]
    public void Train_SameSpecAndDataTwice_ProducesIdenticalModels()
    {
        var again = new ModelTrainer(new FixedTimeProvider(SensorAnomalyModelFixture.TrainedAt)).Train(SensorAnomalyModelFixture.Spec(), fixture.Data);

        Assert.Equal(fixture.Model.OnnxModel, again.OnnxModel);
        Assert.Equal(fixture.Model.Card.Metrics, again.Card.Metrics);
    }

    [Theory]
    [InlineData(TrainerNames.LightGbm, 0.85)]
    // A linear model cannot learn each pump's own normal range, so it trails the tree ensembles.
    [InlineData(TrainerNames.LogisticRegression, 0.75)]
    public void Train_OtherTrainers_TrainAndPassParity(string trainer, double minimumAuc)
    {
        var model = new ModelTrainer(TimeProvider.System).Train(SensorAnomalyModelFixture.Spec(trainer), fixture.Data);

        Assert.Equal(trainer, model.Card.Lineage.Trainer);
        Assert.True(model.Card.Metrics["auc"] > minimumAuc, $"AUC {model.Card.Metrics["auc"]}");
        Assert.True(model.Card.Parity!.Worst!.Difference <= model.Card.Parity.Worst.Allowed);
        Assert.Equal(FeatureColumns, model.Card.Inputs.Select(i => i.Name));
    }

    [Fact]
    public void Train_MoreTreesAndLeaves_GrowsTheOnnxModelAndRecordsTheSizes()
    {
        var spec = SensorAnomalyModelFixture.Spec() with { Trees = 300, Leaves = 40, ParityTolerance = new(1e-3, 1e-4) };

        var model = new ModelTrainer(TimeProvider.System).Train(spec, fixture.Data);

        Assert.True(model.OnnxModel.Length > 2 * fixture.Model.OnnxModel.Length, $"{model.OnnxModel.Length} bytes against {fixture.Model.OnnxModel.Length}");
        Assert.Equal("300", model.Card.Lineage.Parameters["trees"]);
        Assert.Equal("40", model.Card.Lineage.Parameters["leaves"]);
        Assert.Equal("0.001", model.Card.Lineage.Parameters["parityTolerance"]);
        Assert.Equal("0.0001", model.Card.Lineage.Parameters["parityRelativeTolerance"]);
        Assert.Equal("100", fixture.Model.Card.Lineage.Parameters["trees"]);
    }

    [Fact]
    public void Train_UnknownTrainer_ThrowsListingValidTrainers()
    {
        var spec = SensorAnomalyModelFixture.Spec("xgboost");

        var ex = Assert.Throws<UnsupportedTrainerException>(() => new ModelTrainer(TimeProvider.System).Train(spec, fixture.Data));

        Assert.Equal("Unknown trainer 'xgboost'; valid trainers are: fasttree, lightgbm, logistic-regression.", ex.Message);
        Assert.Equal("xgboost", ex.Trainer);
    }

    [Fact]
    public void Train_FeatureNotInDataset_ThrowsNamingIt()
    {
        var spec = SensorAnomalyModelFixture.Spec() with { FeatureColumns = ["temperature_c", "flow_m3_h"] };

        var ex = Assert.Throws<ArgumentException>(() => new ModelTrainer(TimeProvider.System).Train(spec, fixture.Data));

        Assert.Contains("flow_m3_h", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_TestFractionOutOfRange_ThrowsNamingTheField()
    {
        var spec = SensorAnomalyModelFixture.Spec() with { TestFraction = 0.9 };

        var ex = Assert.Throws<ArgumentException>(() => new ModelTrainer(TimeProvider.System).Train(spec, fixture.Data));

        Assert.Contains("TestFraction", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_CancelledBeforeStart_ThrowsOperationCanceled()
    {
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() =>
            new ModelTrainer(TimeProvider.System).Train(SensorAnomalyModelFixture.Spec(), fixture.Data, cancellationToken: cancellation.Token));
    }

    [Fact]
    public void Train_ToleranceBelowFloatPrecision_ThrowsParityExceptionNamingOutputAndLine()
    {
        // ML.NET and ONNX Runtime round differently in float (measured: about 1e-6 on the score),
        // so no export reproduces ML.NET bit for bit: a tolerance of zero must be refused, saying where.
        var spec = SensorAnomalyModelFixture.Spec(TrainerNames.LogisticRegression) with { ParityTolerance = new(0, 0) };

        var ex = Assert.Throws<ParityException>(() => new ModelTrainer(TimeProvider.System).Train(spec, fixture.Data));

        Assert.Contains(ex.Output, new[] { PredictionFields.Score, PredictionFields.Probability });
        Assert.InRange(ex.LineNumber ?? 0, 2, 4001);
        Assert.Contains($"CSV line {ex.LineNumber}", ex.Message, StringComparison.Ordinal);
        Assert.Contains("above the tolerance of 0", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>The fixture's ML.NET model as trained, and the first 200 rows of the dataset in the shape the exporter is given.</summary>
    private (TransformerChain<ITransformer> Model, IDataView FeaturesOnly, int[] Rows) HeldOutScoring()
    {
        var mlContext = new MLContext(seed: 1);
        using var stream = new MemoryStream(fixture.Model.MlNetModel);
        var model = Assert.IsType<TransformerChain<ITransformer>>(mlContext.Model.Load(stream, out _));
        var rows = Enumerable.Range(0, 200).ToArray();
        return (model, ColumnarDataView.FromRows(fixture.Data, FeatureColumns, rows, includeLabel: false), rows);
    }

    private sealed class ModelOutputComparer : IEqualityComparer<ModelOutput>
    {
        public bool Equals(ModelOutput? x, ModelOutput? y) =>
            x is not null && y is not null && (x.Name, x.ElementType, x.Field) == (y.Name, y.ElementType, y.Field) && x.Shape.SequenceEqual(y.Shape);

        public int GetHashCode(ModelOutput obj) => obj.Name.GetHashCode(StringComparison.Ordinal);
    }
}
