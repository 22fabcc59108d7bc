using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Models;

/// <summary>
/// Registers a model trained elsewhere: completes the card its author wrote (name, next version,
/// creation time), has the graph, card and sample checked, records the sample check as the card's
/// parity, and publishes it as a signed version exactly as a trained one is.
/// </summary>
public sealed class ModelImporter(ModelRegistry registry, IImportedModelChecker checker, TimeProvider timeProvider)
{
    /// <summary>Lineage run id of every imported version: no training run of this platform made it.</summary>
    public const string ImportedRun = "imported";

    public async Task<ModelRecord> ImportAsync(string name, ModelImportRequest? request, CancellationToken cancellationToken)
    {
        if (ModelNames.Describe(name) is { } nameProblem)
        {
            throw new RequestValidationException("name", nameProblem);
        }

        if (request is null)
        {
            throw new RequestValidationException("body", "send the model as JSON with 'onnx' (base64), 'card' and 'sample'");
        }

        if (request.Onnx is not { Length: > 0 } onnx)
        {
            throw new RequestValidationException("onnx", "is missing or empty; send the ONNX graph's bytes in base64");
        }

        var written = request.Card ?? throw new RequestValidationException("card", "is missing; send the model card you wrote for the graph");
        var sample = request.Sample ?? throw new RequestValidationException("sample", "is missing; send events with the outputs the graph should give them");
        if (written.Task is not { } task || !ModelTasks.All.Contains(task, StringComparer.Ordinal))
        {
            throw new RequestValidationException("card.task", $"is '{written.Task}'; one of {string.Join(", ", ModelTasks.All)}");
        }

        if (written.Inputs is not { Count: > 0 } inputs)
        {
            throw new RequestValidationException("card.inputs", "is missing or empty; list each graph input and the event field(s) that feed it");
        }

        if (written.Outputs is not { Count: > 0 } outputs)
        {
            throw new RequestValidationException("card.outputs", "is missing or empty; list the graph outputs and the prediction fields they are read into");
        }

        var lineage = written.Lineage ?? new ModelImportLineage();
        var parameters = new Dictionary<string, string>(lineage.Parameters ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        if (lineage.Framework is { } framework)
        {
            parameters.TryAdd("framework", framework);
        }

        var card = new ModelCard(
            name,
            await registry.NextVersionAsync(name, cancellationToken).ConfigureAwait(false),
            task,
            inputs,
            outputs,
            written.Metrics ?? new Dictionary<string, double>(),
            new ModelLineage(
                ImportedRun,
                lineage.DatasetName ?? "unknown",
                lineage.DatasetDigest ?? string.Empty,
                lineage.DatasetRows ?? 0,
                lineage.Algorithm ?? lineage.Framework ?? "unknown",
                parameters,
                lineage.CodeVersion ?? "unknown"),
            written.Baseline ?? [],
            timeProvider.GetUtcNow())
        {
            Classes = written.Classes,
        };
        var parity = checker.Check(card, onnx, sample);
        return await registry.PublishAsync(new TrainedModel(card with { Parity = parity }, onnx, null), cancellationToken).ConfigureAwait(false);
    }
}
