using System.Globalization;
using System.Reflection;
using System.Text;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Training;
using EdgePlatform.Training.Data;
using EdgePlatform.Training.Datasets;

namespace EdgePlatform.ControlPlane.Host.Training;

/// <summary>The <see cref="IModelTrainer"/> port over the ML.NET training library.</summary>
public sealed class MlNetTrainer(ModelTrainer trainer) : IModelTrainer
{
    private const string DefaultLabel = "label";

    private static readonly string CodeVersion =
        typeof(ModelTrainer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    public IReadOnlyList<string> Trainers => TrainerNames.All;

    public async Task<Ports.TrainedModel> TrainAsync(TrainingJob job, Stream dataset, CancellationToken cancellationToken)
    {
        var data = job.Dataset.Format is { } format
            ? ReadVersion(format, dataset, job.Dataset, cancellationToken)
            : await TabularDataset.LoadAsync(dataset, job.Dataset.Label, job.Dataset.Columns, cancellationToken).ConfigureAwait(false);
        var spec = new TrainingSpec
        {
            ModelName = job.ModelName,
            ModelVersion = job.ModelVersion,
            Trainer = job.Trainer,
            Seed = job.Seed,
            FeatureColumns = job.Dataset.Columns,
            LabelColumn = job.Dataset.Label,
            TrainingRunId = job.RunId,
            DatasetName = job.Dataset.Name,
            CodeVersion = CodeVersion,
            Trees = job.Trees,
            Leaves = job.Leaves,
            ParityTolerance = new ParityTolerance(
                job.ParityTolerance ?? ParityTolerance.DefaultAbsolute,
                job.ParityRelativeTolerance ?? ParityTolerance.DefaultRelative),
            Transforms = job.Transforms,
        };

        // ML.NET training is CPU-bound and synchronous; keep it off the request threads.
        var trained = await Task.Run(() => trainer.Train(spec, data, progress: null, cancellationToken), cancellationToken).ConfigureAwait(false);
        return new Ports.TrainedModel(trained.Card, trained.OnnxModel, trained.MlNetModel);
    }

    /// <summary>Checked against the kinds a registered version recorded; a CSV registered whole is numeric throughout.</summary>
    public void ValidateTransforms(DatasetInfo dataset, IReadOnlyDictionary<string, IReadOnlyList<string>>? transforms)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (transforms is null)
        {
            return;
        }

        var spec = new TrainingSpec
        {
            ModelName = dataset.Name,
            ModelVersion = "0.0.0",
            FeatureColumns = dataset.Columns,
            LabelColumn = dataset.Label,
            TrainingRunId = "validation",
            DatasetName = dataset.Name,
            CodeVersion = CodeVersion,
            Transforms = transforms,
        };
        try
        {
            FeaturePipeline.Validate(spec, dataset.Columns.ToDictionary(c => c, c => KindOf(dataset, c), StringComparer.Ordinal));
        }
        catch (ArgumentException ex)
        {
            throw new RequestValidationException("transforms", ex.Message);
        }
    }

    private static ColumnKind KindOf(DatasetInfo dataset, string column) =>
        dataset.Kinds?.GetValueOrDefault(column) is { } name && ColumnKinds.TryParse(name, out var kind) ? kind : ColumnKind.Numeric;

    /// <summary>A registered version's snapshot, in whatever format it was registered, read with the kinds its registration recorded.</summary>
    private static TabularDataset ReadVersion(string format, Stream snapshot, DatasetInfo dataset, CancellationToken cancellationToken)
    {
        using var reader = Datasets.SnapshotFormats.Open(format, snapshot, dataset.Name);
        return TabularDataset.FromReader(reader, dataset.Label, dataset.Digest, dataset.Columns, source: dataset.Name, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Every column other than the label whose first value parses as a number is a feature;
    /// the full parse then checks every row and says which cell is wrong.
    /// </summary>
    public DatasetInfo DescribeDataset(string name, string? label, ReadOnlyMemory<byte> csv, DateTimeOffset now)
    {
        var labelColumn = string.IsNullOrWhiteSpace(label) ? DefaultLabel : label.Trim();
        try
        {
            var features = DetectFeatureColumns(csv.Span, labelColumn);
            var data = TabularDataset.Parse(csv.ToArray(), labelColumn, features);
            return new DatasetInfo(name, data.Digest, data.RowCount, features, labelColumn, now);
        }
        catch (DatasetFormatException ex)
        {
            throw new RequestValidationException("body", ex.Message);
        }
    }

    private static List<string> DetectFeatureColumns(ReadOnlySpan<byte> csv, string labelColumn)
    {
        var text = Encoding.UTF8.GetString(csv);
        var lines = text.Split('\n', 3);
        if (lines.Length < 2 || string.IsNullOrWhiteSpace(lines[0]))
        {
            throw new DatasetFormatException("the dataset needs a header line and at least one row");
        }

        var header = lines[0].TrimEnd('\r').Split(',').Select(h => h.Trim().Trim('"')).ToArray();
        var first = lines[1].TrimEnd('\r').Split(',').Select(v => v.Trim().Trim('"')).ToArray();
        if (!header.Contains(labelColumn, StringComparer.Ordinal))
        {
            throw new DatasetFormatException($"label column '{labelColumn}' is not in the header ({string.Join(", ", header)})");
        }

        var features = new List<string>();
        for (var i = 0; i < header.Length && i < first.Length; i++)
        {
            if (!string.Equals(header[i], labelColumn, StringComparison.Ordinal)
                && double.TryParse(first[i], NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            {
                features.Add(header[i]);
            }
        }

        return features.Count > 0
            ? features
            : throw new DatasetFormatException("no numeric feature column found besides the label");
    }
}

/// <summary>Registers the datasets that ship with the server, so a fresh install can train at once.</summary>
public sealed class BuiltInDatasetSeeder(ControlPlane.Training.TrainingService training) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var dataset in BuiltInDatasets.All)
        {
            using var buffer = new MemoryStream();
            await using (var stream = dataset.Open())
            {
                await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            }

            await training.RegisterDatasetAsync(dataset.Name, dataset.LabelColumn, buffer.ToArray(), cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

public static class TrainingRegistration
{
    public static WebApplicationBuilder AddMlNetTrainer(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ModelTrainer>();
        builder.Services.AddSingleton<IModelTrainer, MlNetTrainer>();
        builder.Services.AddHostedService<BuiltInDatasetSeeder>();
        return builder;
    }
}

public static class SweepRegistration
{
    /// <summary>Sweeps over workers: the planner engine, the service, its scheduler and queue gauges (settings in <c>Sweeps</c>).</summary>
    public static WebApplicationBuilder AddSweeps(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ControlPlane.Training.SweepOptions>().BindConfiguration(ControlPlane.Training.SweepOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ISweepEngine, MlNetSweepEngine>();
        builder.Services.AddSingleton<ControlPlane.Training.SweepQueueMetrics>();
        builder.Services.AddSingleton<ControlPlane.Training.SweepService>();
        builder.Services.AddHostedService<ControlPlane.Training.SweepScheduler>();
        return builder;
    }
}
