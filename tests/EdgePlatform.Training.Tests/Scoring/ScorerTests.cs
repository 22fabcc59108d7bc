using EdgePlatform.Training.Scoring;

namespace EdgePlatform.Training.Tests.Scoring;

[Collection(SharedSensorAnomalyModel.Name)]
public class ScorerTests(SensorAnomalyModelFixture fixture)
{
    [Fact]
    public void Predict_SameRows_MlNetAndOnnxRuntimeAgreeWithin1e5()
    {
        // The first rows plus every anomaly among the first 400, so both labels are exercised.
        var rows = Enumerable.Range(0, 400).Where(r => r < 10 || fixture.Data.GetLabel(r)).ToArray();
        var mlNet = new MlNetScorer(fixture.Model.MlNetModel);
        using var onnx = new OnnxScorer(fixture.Model.OnnxModel, fixture.Model.Card);

        foreach (var row in rows)
        {
            var features = fixture.Data.GetFeatures(row);
            var expected = mlNet.Predict(features);
            var actual = onnx.Predict(features);

            Assert.Equal(expected.Label, actual.Label);
            Assert.InRange(Math.Abs(expected.Score - actual.Score), 0, 1e-5);
            Assert.InRange(Math.Abs(expected.Probability - actual.Probability), 0, 1e-5);
        }

        Assert.Contains(rows, r => mlNet.Predict(fixture.Data.GetFeatures(r)).Label);
    }

    [Fact]
    public void Predict_FailingBearingReading_PredictsAnomalyAndHealthyReadingDoesNot()
    {
        var mlNet = new MlNetScorer(fixture.Model.MlNetModel);
        var healthy = new Dictionary<string, float>
        {
            ["temperature_c"] = 48f, ["vibration_mm_s"] = 1.8f, ["pressure_bar"] = 5.0f, ["rpm"] = 1470f, ["current_a"] = 25f,
        };
        var failingBearing = new Dictionary<string, float>(healthy) { ["vibration_mm_s"] = 7.5f, ["temperature_c"] = 62f };

        var healthyPrediction = mlNet.Predict(healthy);
        var failingPrediction = mlNet.Predict(failingBearing);

        Assert.False(healthyPrediction.Label);
        Assert.True(healthyPrediction.Probability < 0.5f);
        Assert.True(failingPrediction.Label);
        Assert.True(failingPrediction.Probability > 0.5f);
    }

    [Fact]
    public void MlNetScorer_Load_ExposesTheTrainedFeatureColumns()
    {
        var scorer = new MlNetScorer(fixture.Model.MlNetModel);

        Assert.Equal(fixture.Data.FeatureColumns, scorer.FeatureColumns);
    }

    [Fact]
    public void MlNetScorer_Predict_MissingFeature_ThrowsNamingIt()
    {
        var scorer = new MlNetScorer(fixture.Model.MlNetModel);
        var features = new Dictionary<string, float>(fixture.Data.GetFeatures(0));
        features.Remove("rpm");

        var ex = Assert.Throws<ArgumentException>(() => scorer.Predict(features));

        Assert.Contains("'rpm'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OnnxScorer_Predict_MissingField_ThrowsNamingFieldAndInput()
    {
        using var scorer = new OnnxScorer(fixture.Model.OnnxModel, fixture.Model.Card);
        var features = new Dictionary<string, float>(fixture.Data.GetFeatures(0));
        features.Remove("current_a");

        var ex = Assert.Throws<ArgumentException>(() => scorer.Predict(features));

        Assert.Contains("field 'current_a', which feeds model input 'current_a'", ex.Message, StringComparison.Ordinal);
    }
}
