using System.Text;
using EdgePlatform.Agent.Core.Telemetry;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Core.Tests.Telemetry;

public sealed class FeedbackRecorderTests
{
    private static readonly DateTimeOffset Now = new(2026, 2, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly ModelArmKey Control = new("sensor-anomaly", "3", "sha256:" + new string('d', 64), Arms.Control);
    private static readonly ModelArmKey Candidate = Control with { ModelVersion = "4", Arm = Arms.Candidate };

    private readonly ScoringMetrics _scoring = new();
    private readonly SteppedClock _clock = new(Now);

    [Fact]
    public void Record_LabelsForRememberedPredictions_CountsTheConfusionMatrixOfTheirVersion()
    {
        var feedback = Recorder();
        var control = Metrics(Control, ModelTasks.BinaryClassification);
        feedback.Remember("e1", control, label: true, value: 2.5);
        feedback.Remember("e2", control, label: true, value: 1.5);
        feedback.Remember("e3", control, label: false, value: -1);
        feedback.Remember("e4", control, label: false, value: -2);

        var results = new[]
        {
            feedback.Record(Json("""{"id":"e1","label":true}""")),
            feedback.Record(Json("""{"id":"e2","label":0}""")),
            feedback.Record(Json("""{"id":"e3","label":false}""")),
            feedback.Record(Json("""{"id":"e4","label":1}""")),
        };

        Assert.All(results, r => Assert.Equal(FeedbackOutcome.Matched, r.Outcome));
        var quality = Assert.Single(_scoring.TakeModelIntervals(Now, 10_000)).Quality;
        Assert.Equal((4L, 1L, 1L, 1L, 1L), (quality.Labelled, quality.TruePositives, quality.FalsePositives, quality.TrueNegatives, quality.FalseNegatives));
    }

    [Fact]
    public void Record_RegressionLabels_SumsTheErrors()
    {
        var feedback = Recorder();
        var model = Metrics(Control, ModelTasks.Regression);
        feedback.Remember("r1", model, label: null, value: 12);
        feedback.Remember("r2", model, label: null, value: 3);

        feedback.Record(Json("""{"id":"r1","label":10}"""));
        feedback.Record(Json("""{"id":"r2","label":4.5}"""));

        var quality = Assert.Single(_scoring.TakeModelIntervals(Now, 10_000)).Quality;
        Assert.Equal((2L, 0.5, 3.5, 6.25), (quality.Labelled, quality.ErrorSum, quality.AbsoluteErrorSum, quality.SquaredErrorSum));
    }

    [Fact]
    public void Record_ShadowEvent_LabelsBothArmsPredictions()
    {
        var feedback = Recorder();
        feedback.Remember("e1", Metrics(Control, ModelTasks.BinaryClassification), label: true, value: 1);
        feedback.Remember("e1", Metrics(Candidate, ModelTasks.BinaryClassification), label: false, value: -1);

        var result = feedback.Record(Json("""{"id":"e1","label":true}"""));

        Assert.Equal(2, result.Predictions);
        var qualities = _scoring.TakeModelIntervals(Now, 10_000).Select(r => r.Quality).ToDictionary(q => q.Arm);
        Assert.Equal(1, qualities[Arms.Control].TruePositives);
        Assert.Equal(1, qualities[Arms.Candidate].FalseNegatives);
    }

    [Fact]
    public void Record_ClassifierWithProbabilities_SumsLogLossAndCountsTheLabelledHistograms()
    {
        var feedback = Recorder();
        var control = Metrics(Control, ModelTasks.BinaryClassification);
        feedback.Remember("e1", control, label: true, value: null, probability: 0.9);
        feedback.Remember("e2", control, label: false, value: null, probability: 0.2);
        feedback.Remember("e3", control, label: true, value: null, probability: 0.7);

        feedback.Record(Json("""{"id":"e1","label":true}"""));
        feedback.Record(Json("""{"id":"e2","label":false}"""));
        feedback.Record(Json("""{"id":"e3","label":0}"""));

        // −ln 0.9 + −ln 0.8 + −ln 0.3.
        var quality = Assert.Single(_scoring.TakeModelIntervals(Now, 10_000)).Quality;
        Assert.Equal(0.10536051565782628 + 0.2231435513142097 + 1.2039728043259361, quality.LogLossSum, 1e-12);
        Assert.Equal(1L, quality.LabelledPositiveHistogram[90]);
        Assert.Equal((1L, 1L), (quality.LabelledNegativeHistogram[20], quality.LabelledNegativeHistogram[70]));
        Assert.Equal(3L, quality.LabelledPositiveHistogram.Sum() + quality.LabelledNegativeHistogram.Sum());
    }

    [Fact]
    public void Record_ShadowClassifierEvents_PairsCandidateLossMinusControlLossOnTheCandidate()
    {
        var feedback = Recorder();
        var control = Metrics(Control, ModelTasks.BinaryClassification);
        var candidate = Metrics(Candidate, ModelTasks.BinaryClassification);

        // (id, control's label, candidate's label, true label): losses control/candidate 0/1, 1/0, 0/0, 1/0.
        (string Id, bool Control, bool Candidate, bool Label)[] events =
            [("e1", true, false, true), ("e2", true, false, false), ("e3", true, true, true), ("e4", true, false, false)];
        foreach (var (id, controlLabel, candidateLabel, _) in events)
        {
            // The arms may remember an event in either order.
            if (id == "e4")
            {
                feedback.Remember(id, candidate, candidateLabel, value: null);
                feedback.Remember(id, control, controlLabel, value: null);
            }
            else
            {
                feedback.Remember(id, control, controlLabel, value: null);
                feedback.Remember(id, candidate, candidateLabel, value: null);
            }
        }

        foreach (var (id, _, _, label) in events)
        {
            feedback.Record(Json($$"""{"id":"{{id}}","label":{{(label ? "true" : "false")}}}"""));
        }

        var qualities = _scoring.TakeModelIntervals(Now, 10_000).Select(r => r.Quality).ToDictionary(q => q.Arm);
        var paired = qualities[Arms.Candidate];
        Assert.Equal((4L, 1.0 - 1 + 0 - 1, 1.0 + 1 + 0 + 1), (paired.Paired, paired.PairedDifferenceSum, paired.PairedDifferenceSquaredSum));
        Assert.Equal((0L, 0.0), (qualities[Arms.Control].Paired, qualities[Arms.Control].PairedDifferenceSum));
    }

    [Fact]
    public void Record_ShadowRegressionEvent_PairsTheDifferenceOfAbsoluteErrors()
    {
        var feedback = Recorder();
        feedback.Remember("r1", Metrics(Control, ModelTasks.Regression), label: null, value: 12);
        feedback.Remember("r1", Metrics(Candidate, ModelTasks.Regression), label: null, value: 10.5);
        feedback.Remember("r2", Metrics(Control, ModelTasks.Regression), label: null, value: 3);

        feedback.Record(Json("""{"id":"r1","label":10}"""));
        feedback.Record(Json("""{"id":"r2","label":4}"""));

        // |10.5 − 10| − |12 − 10| = −1.5; r2 was predicted by the control alone.
        var candidate = _scoring.TakeModelIntervals(Now, 10_000).Select(r => r.Quality).Single(q => q.Arm == Arms.Candidate);
        Assert.Equal((1L, -1.5, 2.25), (candidate.Paired, candidate.PairedDifferenceSum, candidate.PairedDifferenceSquaredSum));
    }

    [Fact]
    public void Record_UnknownOrAlreadyLabelledId_IsUnmatchedAndCounted()
    {
        var feedback = Recorder();
        feedback.Remember("e1", Metrics(Control, ModelTasks.BinaryClassification), label: true, value: 1);
        feedback.Record(Json("""{"id":"e1","label":true}"""));

        var again = feedback.Record(Json("""{"id":"e1","label":true}"""));
        var unknown = feedback.Record(Json("""{"id":"nope","label":false}"""));

        Assert.Equal(FeedbackOutcome.Unmatched, again.Outcome);
        Assert.Equal(FeedbackOutcome.Unmatched, unknown.Outcome);
        Assert.Contains("'nope'", unknown.Reason, StringComparison.Ordinal);
        Assert.Equal(2, _scoring.TakeInterval().FeedbackUnmatched);
    }

    [Fact]
    public void Record_PredictionOlderThanTheMaximumAge_IsUnmatched()
    {
        var feedback = Recorder(maxAgeSeconds: 60);
        feedback.Remember("e1", Metrics(Control, ModelTasks.BinaryClassification), label: true, value: 1);
        _clock.Advance(TimeSpan.FromSeconds(61));

        var result = feedback.Record(Json("""{"id":"e1","label":true}"""));

        Assert.Equal(FeedbackOutcome.Unmatched, result.Outcome);
        Assert.Contains("older than 60 s", result.Reason, StringComparison.Ordinal);
        Assert.Equal(0, feedback.Remembered);
    }

    [Fact]
    public void Remember_BeyondCapacity_ForgetsTheOldestFirst()
    {
        var feedback = Recorder(capacity: 2);
        var model = Metrics(Control, ModelTasks.BinaryClassification);
        feedback.Remember("e1", model, label: true, value: 1);
        feedback.Remember("e2", model, label: true, value: 1);
        feedback.Remember("e3", model, label: true, value: 1);

        Assert.Equal(FeedbackOutcome.Unmatched, feedback.Record(Json("""{"id":"e1","label":true}""")).Outcome);
        Assert.Equal(FeedbackOutcome.Matched, feedback.Record(Json("""{"id":"e2","label":true}""")).Outcome);
        Assert.Equal(FeedbackOutcome.Matched, feedback.Record(Json("""{"id":"e3","label":true}""")).Outcome);
    }

    [Fact]
    public void Record_MemoryTurnedOff_EveryLabelIsUnmatchedSayingWhy()
    {
        var feedback = Recorder(capacity: 0);
        feedback.Remember("e1", Metrics(Control, ModelTasks.BinaryClassification), label: true, value: 1);

        var result = feedback.Record(Json("""{"id":"e1","label":true}"""));

        Assert.Equal(FeedbackOutcome.Unmatched, result.Outcome);
        Assert.Equal("no predictions are remembered (Feedback:MemoryCapacity is 0)", result.Reason);
    }

    [Theory]
    [InlineData("not json", "not a feedback document")]
    [InlineData("""{"label":true}""", "field 'id' is missing or empty")]
    [InlineData("""{"id":"e1"}""", "field 'label' must be true, false or a number; got nothing")]
    [InlineData("""{"id":"e1","label":"yes"}""", "field 'label' must be true, false or a number; got \"yes\"")]
    [InlineData("""{"id":"e1","label":0.7}""", "label 0.7 does not fit binary classifier 'sensor-anomaly': use true, false, 0 or 1")]
    public void Record_MalformedFeedback_IsCountedWithTheReason(string payload, string reason)
    {
        var feedback = Recorder();
        feedback.Remember("e1", Metrics(Control, ModelTasks.BinaryClassification), label: true, value: 1);

        var result = feedback.Record(Json(payload));

        Assert.Equal(FeedbackOutcome.Malformed, result.Outcome);
        Assert.StartsWith(reason, result.Reason, StringComparison.Ordinal);
        Assert.Equal(1, _scoring.TakeInterval().FeedbackMalformed);
    }

    [Fact]
    public void Record_LabelForMulticlassPrediction_RefusedSayingOutcomesAreNotCounted()
    {
        var feedback = Recorder();
        feedback.Remember("m1", Metrics(Control, ModelTasks.MulticlassClassification), label: null, value: null);

        var result = feedback.Record(Json("""{"id":"m1","label":2}"""));

        Assert.Equal(FeedbackOutcome.Malformed, result.Outcome);
        Assert.StartsWith("labelled outcomes of multiclass model 'sensor-anomaly' are not counted", result.Reason, StringComparison.Ordinal);
        Assert.Equal(1, _scoring.TakeInterval().FeedbackMalformed);
    }

    [Fact]
    public void Record_MalformedLabel_KeepsThePredictionForACorrectOne()
    {
        var feedback = Recorder();
        feedback.Remember("e1", Metrics(Control, ModelTasks.BinaryClassification), label: true, value: 1);
        feedback.Record(Json("""{"id":"e1","label":0.7}"""));

        Assert.Equal(FeedbackOutcome.Matched, feedback.Record(Json("""{"id":"e1","label":1}""")).Outcome);
    }

    private FeedbackRecorder Recorder(int capacity = 100, int maxAgeSeconds = 600) =>
        new(_scoring, Options.Create(new FeedbackOptions { MemoryCapacity = capacity, MaxAgeSeconds = maxAgeSeconds }), _clock);

    private ModelArmMetrics Metrics(ModelArmKey key, string task) =>
        _scoring.ForModel(key, () => new ModelProfile(ModelArmMetricsTests.Card(task), ["x"]));

    private static byte[] Json(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>A clock whose timestamps move only when the test moves it.</summary>
    private sealed class SteppedClock(DateTimeOffset start) : TimeProvider
    {
        private DateTimeOffset _now = start;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override DateTimeOffset GetUtcNow() => _now;

        public override long GetTimestamp() => _now.UtcTicks;

        public void Advance(TimeSpan by) => _now += by;
    }
}
