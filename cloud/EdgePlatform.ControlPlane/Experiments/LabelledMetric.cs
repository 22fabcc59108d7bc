using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Experiments;

/// <summary>
/// How a quality record's labelled outcomes add to a metric's numerator (the metric being that
/// over its denominator: labelled predictions, or for log-loss those with a probability), the one
/// rule experiments and rollout quality gates read labelled feedback by.
/// </summary>
public static class LabelledMetric
{
    public static double Numerator(ExperimentMetric metric, QualityRecord record)
    {
        ArgumentNullException.ThrowIfNull(metric);
        ArgumentNullException.ThrowIfNull(record);
        return metric.Kind switch
        {
            ExperimentMetricKinds.Accuracy => record.TruePositives + record.TrueNegatives,
            ExperimentMetricKinds.LogLoss => record.LogLossSum,
            ExperimentMetricKinds.Mae => record.AbsoluteErrorSum,
            ExperimentMetricKinds.OutcomeRate => metric.Outcome switch
            {
                ExperimentOutcomes.TruePositive => record.TruePositives,
                ExperimentOutcomes.FalsePositive => record.FalsePositives,
                ExperimentOutcomes.TrueNegative => record.TrueNegatives,
                ExperimentOutcomes.FalseNegative => record.FalseNegatives,
                ExperimentOutcomes.PositiveLabel => record.TruePositives + record.FalseNegatives,
                ExperimentOutcomes.PositivePrediction => record.TruePositives + record.FalsePositives,
                _ => 0,
            },
            _ => 0,
        };
    }

    /// <summary>The sum of the squared per-prediction values where the metric is a mean of them (mae, log-loss); 0 for rates.</summary>
    public static double NumeratorSquares(ExperimentMetric metric, QualityRecord record)
    {
        ArgumentNullException.ThrowIfNull(metric);
        ArgumentNullException.ThrowIfNull(record);
        return metric.Kind switch
        {
            ExperimentMetricKinds.Mae => record.SquaredErrorSum,
            ExperimentMetricKinds.LogLoss => record.LogLossSquaredSum,
            _ => 0,
        };
    }
}
