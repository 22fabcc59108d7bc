using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Training;
using EdgePlatform.Training.Sweeps;

namespace EdgePlatform.ControlPlane.Host.Training;

/// <summary>The <see cref="ISweepEngine"/> port over the training library's sweep planner, trial runner and refit.</summary>
public sealed class MlNetSweepEngine(TimeProvider timeProvider) : ISweepEngine
{
    public WorkerBuild Build => TrainingBuild.Current;

    public async Task<ISweepSearch> OpenAsync(SweepSpec spec, DatasetInfo dataset, Stream snapshot, CancellationToken cancellationToken)
    {
        // Reading and resolving are CPU-bound; keep them off the request threads.
        return await Task.Run<ISweepSearch>(() =>
        {
            TabularDataset data;
            SweepProblem problem;
            try
            {
                data = SweepData.Load(snapshot, dataset, spec, cancellationToken);
                problem = SweepProblem.Resolve(spec, data);
            }
            catch (ArgumentException ex)
            {
                throw new RequestValidationException(ex.ParamName ?? "spec", ex.Message);
            }
            catch (DatasetFormatException ex)
            {
                throw new RequestValidationException("dataset", ex.Message);
            }

            return new Search(problem, data, timeProvider);
        }, cancellationToken).ConfigureAwait(false);
    }

    private sealed class Search(SweepProblem problem, TabularDataset data, TimeProvider timeProvider) : ISweepSearch
    {
        private readonly SweepPlanner _planner = new(problem);
        private readonly Dictionary<int, TrialSpec> _proposed = [];

        public string Task => problem.Task;

        public string Metric => problem.Metric;

        public bool IsComplete => _planner.IsComplete;

        public (ProposedTrial Trial, double Score)? Best =>
            _planner.Best is { } best ? (ToProposed(best.Trial), best.Outcome.Score) : null;

        public ProposedTrial? Propose()
        {
            if (_planner.Next() is not { } trial)
            {
                return null;
            }

            _proposed[trial.Number] = trial;
            return ToProposed(trial);
        }

        public void Record(ProposedTrial trial, TrialResultRecord? result)
        {
            ArgumentNullException.ThrowIfNull(trial);
            var spec = _proposed.GetValueOrDefault(trial.Number) ?? new TrialSpec(trial.Number, trial.Trainer, trial.Parameters, trial.Fidelity, trial.Seed);
            _planner.Record(
                spec,
                result is { Error: null, Score: { } score }
                    ? new TrialOutcome(score, result.Metrics ?? new Dictionary<string, double>(), TimeSpan.FromSeconds(result.DurationSeconds))
                    : null);
        }

        public ModelSearchSummary Summarize(string sweepId) => _planner.Summarize(sweepId);

        public Task<Ports.TrainedModel> RefitAsync(ProposedTrial best, ModelSearchSummary summary, string modelName, string modelVersion, string runId, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(best);
            var spec = _proposed.GetValueOrDefault(best.Number) ?? new TrialSpec(best.Number, best.Trainer, best.Parameters, best.Fidelity, best.Seed);
            // ML.NET's trainers ignore cancellation; the refit runs on a pool thread to its end.
            return System.Threading.Tasks.Task.Run(() =>
            {
                var trained = SweepRefit.Refit(problem, spec, summary, data, modelName, modelVersion, runId, TrainingBuild.Current.CodeVersion, timeProvider);
                return new Ports.TrainedModel(trained.Card, trained.OnnxModel, trained.MlNetModel);
            }, cancellationToken);
        }

        private static ProposedTrial ToProposed(TrialSpec trial) => new(trial.Number, trial.Trainer, trial.Parameters, trial.Fidelity, trial.Seed);
    }
}
