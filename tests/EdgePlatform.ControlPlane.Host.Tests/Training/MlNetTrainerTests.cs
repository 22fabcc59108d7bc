using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Training;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Training;
using EdgePlatform.Training.Datasets;

namespace EdgePlatform.ControlPlane.Host.Tests.Training;

public sealed class MlNetTrainerTests
{
    [Fact]
    public async Task TrainAsync_JobWithTransforms_TrainsWithThemAndLineageRecordsThem()
    {
        var sensor = BuiltInDatasets.SensorAnomaly;
        var dataset = new DatasetInfo(sensor.Name, "sha256:" + new string('0', 64), 4000, sensor.FeatureColumns, sensor.LabelColumn, DateTimeOffset.UnixEpoch);
        var job = new TrainingJob("run-1", dataset, "pump", "1.0.0", TrainerNames.LogisticRegression, 42,
            Transforms: new Dictionary<string, IReadOnlyList<string>> { ["rpm"] = [FeatureTransforms.MeanVariance] });
        var trainer = new MlNetTrainer(new ModelTrainer(TimeProvider.System));
        trainer.ValidateTransforms(dataset, job.Transforms);

        await using var csv = sensor.Open();
        var trained = await trainer.TrainAsync(job, csv, CancellationToken.None);

        Assert.Equal("rpm: mean-variance", trained.Card.Lineage.Parameters["transforms"]);
        Assert.Equal("per-column", trained.Card.Lineage.Parameters["normalization"]);
        Assert.True(trained.Card.Parity!.Worst!.Difference <= trained.Card.Parity.Worst.Allowed);
    }
}
