using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Experiments;

namespace EdgePlatform.ControlPlane.Host.Tests;

/// <summary>An analyzer that answers every look with the arms it was given and the comparisons a test sets.</summary>
public sealed class FixedExperimentAnalyzer : IExperimentAnalyzer
{
    public IReadOnlyList<MetricComparison> Comparisons { get; set; } = [];

    public Task<ExperimentLook> AnalyzeAsync(ExperimentInfo experiment, IReadOnlyList<ExperimentUnitAssignment> assignments, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var arms = experiment.Arms
            .Select(a => new ArmReport(a.Name, $"{a.Model.Name}:{a.Model.Version}", assignments.Count(x => x.Arm == a.Name), assignments.Count(x => x.Arm == a.Name), 0, 0, null, null, null, null))
            .ToList();
        var ratio = new SampleRatioReport([.. arms.Select(a => a.Units)], [.. experiment.Arms.Select(a => a.Weight / experiment.Arms.Sum(x => x.Weight))], 0, experiment.Arms.Count - 1, 1, false);
        return Task.FromResult(new ExperimentLook(at, arms, ratio, Comparisons.Where(c => c.Metric == experiment.Metric.Kind).ToList(), [], null));
    }
}
