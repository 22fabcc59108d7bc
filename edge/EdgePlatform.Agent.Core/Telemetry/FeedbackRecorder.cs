using System.Text.Json;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Core.Telemetry;

/// <summary>What became of one feedback message; <see cref="Reason"/> says why when it was not matched.</summary>
public readonly record struct FeedbackResult(FeedbackOutcome Outcome, string? CorrelationId, string? Reason, int Predictions = 0);

public enum FeedbackOutcome
{
    /// <summary>The label was counted against every arm that predicted the event.</summary>
    Matched,

    /// <summary>No remembered prediction has the id: never seen, already labelled, or forgotten.</summary>
    Unmatched,

    /// <summary>Not a feedback document, or a label that does not fit the model.</summary>
    Malformed,
}

/// <summary>
/// Remembers recent predictions by correlation id (a bounded ring, oldest forgotten first, each
/// kept at most <see cref="FeedbackOptions.MaxAgeSeconds"/>) and turns labelled feedback into
/// outcomes of the version and arm that made each prediction: confusion counts, log-loss and
/// labelled probability histograms for a binary classifier, error sums for a regression model.
/// In shadow mode both arms' predictions of an event are labelled, and the candidate's record
/// also gets the paired difference of their losses on it. A prediction is labelled once; later
/// feedback for it is unmatched.
/// </summary>
/// <remarks>
/// The memory sits on the scoring path, so it is kept to one lock per batch and no allocation per
/// event: predictions live in an array of structs, indexed by a 64-bit hash of the id rather than
/// the id itself, so no event's id string outlives its event (which would age every id into the
/// older garbage collector generations). Two ids of one device colliding in 64 bits within the
/// memory's capacity is far less likely than the label arriving at all.
/// </remarks>
public sealed class FeedbackRecorder
{
    private readonly Lock _gate = new();
    private readonly ScoringMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly TimeSpan _maxAge;
    private readonly Slot[] _ring;
    private readonly Dictionary<ulong, int> _byId;
    private int _next;

    public FeedbackRecorder(ScoringMetrics metrics, IOptions<FeedbackOptions> options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _metrics = metrics;
        _time = timeProvider;
        _maxAge = TimeSpan.FromSeconds(options.Value.MaxAgeSeconds);
        _ring = new Slot[options.Value.MemoryCapacity];
        _byId = new Dictionary<ulong, int>(options.Value.MemoryCapacity);
    }

    /// <summary>Predictions remembered now.</summary>
    public int Remembered
    {
        get
        {
            lock (_gate)
            {
                return _byId.Count;
            }
        }
    }

    /// <summary>False when <c>Feedback:MemoryCapacity</c> is 0: nothing is remembered, so callers need not prepare anything.</summary>
    public bool IsEnabled => _ring.Length > 0;

    /// <summary>
    /// Remembers one arm's prediction of the event <paramref name="correlationId"/>: its label (and
    /// probability, when it gives one) for a classifier, its value for a regression model.
    /// </summary>
    public void Remember(string correlationId, ModelArmMetrics metrics, bool? label, double? value, double? probability = null)
    {
        ArgumentNullException.ThrowIfNull(correlationId);
        Remember([correlationId], metrics, [label], [value], [probability]);
    }

    /// <summary>
    /// Remembers one run's predictions on <paramref name="metrics"/>' version and arm: row i's
    /// label, value and probability under id i; rows without an id are skipped.
    /// <paramref name="probabilities"/> may be empty when the model gives none.
    /// </summary>
    public void Remember(
        ReadOnlySpan<string?> correlationIds, ModelArmMetrics metrics, ReadOnlySpan<bool?> labels, ReadOnlySpan<double?> values, ReadOnlySpan<double?> probabilities = default)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        if (labels.Length != correlationIds.Length || values.Length != correlationIds.Length
            || (probabilities.Length != correlationIds.Length && !probabilities.IsEmpty))
        {
            throw new ArgumentException(
                $"{correlationIds.Length} ids need as many labels, values and probabilities (or none); got {labels.Length}, {values.Length} and {probabilities.Length}",
                nameof(labels));
        }

        if (_ring.Length == 0)
        {
            return;
        }

        var now = _time.GetTimestamp();
        lock (_gate)
        {
            for (var i = 0; i < correlationIds.Length; i++)
            {
                if (correlationIds[i] is { } id)
                {
                    RememberLocked(KeyOf(id), new Prediction(metrics, labels[i], values[i], probabilities.IsEmpty ? null : probabilities[i]), now);
                }
            }
        }
    }

    /// <summary>Reads a feedback message (<see cref="LabelFeedback"/>) and counts its outcome; malformed and unmatched feedback is counted too.</summary>
    public FeedbackResult Record(ReadOnlySpan<byte> payload)
    {
        var result = Match(payload);
        switch (result.Outcome)
        {
            case FeedbackOutcome.Unmatched:
                _metrics.RecordFeedbackUnmatched();
                break;
            case FeedbackOutcome.Malformed:
                _metrics.RecordFeedbackMalformed();
                break;
        }

        return result;
    }

    private void RememberLocked(ulong key, Prediction prediction, long now)
    {
        if (_byId.TryGetValue(key, out var index))
        {
            ref var existing = ref _ring[index];
            if (ReferenceEquals(existing.First.Metrics, prediction.Metrics) || existing.First.Metrics.Key == prediction.Metrics.Key)
            {
                // The same arm again: the id was reused by a newer event.
                existing = new Slot(key, now, prediction, default);
            }
            else
            {
                existing.Second = prediction;
            }

            return;
        }

        ref var slot = ref _ring[_next];
        if (slot.First.Metrics is not null)
        {
            _byId.Remove(slot.Key);
        }

        slot = new Slot(key, now, prediction, default);
        _byId[key] = _next;
        _next = (_next + 1) % _ring.Length;
    }

    private FeedbackResult Match(ReadOnlySpan<byte> payload)
    {
        LabelFeedback? feedback;
        try
        {
            feedback = JsonSerializer.Deserialize(payload, ContractsJsonContext.Default.LabelFeedback);
        }
        catch (JsonException ex)
        {
            return new(FeedbackOutcome.Malformed, null, $"not a feedback document: {ex.Message}");
        }

        if (feedback is null)
        {
            return new(FeedbackOutcome.Malformed, null, "not a feedback document: null");
        }

        if (string.IsNullOrEmpty(feedback.Id))
        {
            return new(FeedbackOutcome.Malformed, null, "field 'id' is missing or empty");
        }

        if (!TryReadLabel(feedback.Label, out var label, out var isBinary))
        {
            return new(FeedbackOutcome.Malformed, feedback.Id, $"field 'label' must be true, false or a number; got {Describe(feedback.Label)}");
        }

        Slot slot;
        lock (_gate)
        {
            if (_ring.Length == 0)
            {
                return new(FeedbackOutcome.Unmatched, feedback.Id, $"no predictions are remembered ({FeedbackOptions.Section}:{nameof(FeedbackOptions.MemoryCapacity)} is 0)");
            }

            var key = KeyOf(feedback.Id);
            if (!_byId.TryGetValue(key, out var index))
            {
                return new(FeedbackOutcome.Unmatched, feedback.Id, $"no prediction for id '{feedback.Id}' is remembered (never scored here, already labelled, or forgotten)");
            }

            slot = _ring[index];
            if (_time.GetElapsedTime(slot.At) > _maxAge)
            {
                Forget(key, index);
                return new(FeedbackOutcome.Unmatched, feedback.Id, $"the prediction for id '{feedback.Id}' is older than {_maxAge.TotalSeconds:0} s and was forgotten");
            }

            if (string.Equals(slot.First.Metrics.Profile.Task, ModelTasks.MulticlassClassification, StringComparison.Ordinal))
            {
                return new(FeedbackOutcome.Malformed, feedback.Id, $"labelled outcomes of multiclass model '{slot.First.Metrics.Key.ModelName}' are not counted: quality telemetry holds binary confusion counts and regression errors only");
            }

            if (slot.First.Metrics.Profile.IsClassifier && !isBinary)
            {
                return new(FeedbackOutcome.Malformed, feedback.Id, $"label {label} does not fit binary classifier '{slot.First.Metrics.Key.ModelName}': use true, false, 0 or 1");
            }

            Forget(key, index);
        }

        if (slot.Second.Metrics is null)
        {
            Count(slot.First, label, null);
            return new(FeedbackOutcome.Matched, feedback.Id, null, 1);
        }

        var firstIsCandidate = IsCandidate(slot.First);
        var difference = firstIsCandidate != IsCandidate(slot.Second)
            ? firstIsCandidate ? PairedDifference(slot.First, slot.Second, label) : PairedDifference(slot.Second, slot.First, label)
            : null;
        Count(slot.First, label, firstIsCandidate ? difference : null);
        Count(slot.Second, label, firstIsCandidate ? null : difference);
        return new(FeedbackOutcome.Matched, feedback.Id, null, 2);
    }

    private static bool IsCandidate(Prediction prediction) => string.Equals(prediction.Metrics.Key.Arm, Arms.Candidate, StringComparison.Ordinal);

    /// <summary>The candidate's loss minus the control's on one labelled event; null when either has no loss.</summary>
    private static double? PairedDifference(Prediction candidate, Prediction control, double label) =>
        Loss(candidate, label) is { } candidateLoss && Loss(control, label) is { } controlLoss ? candidateLoss - controlLoss : null;

    private static double? Loss(Prediction prediction, double label) =>
        ModelArmMetrics.Loss(prediction.Metrics.Profile.IsClassifier, prediction.Label, prediction.Value, label);

    /// <summary>Counts against the live metrics of the prediction's version and arm, even if the reporter retired the one it was made on.</summary>
    private void Count(Prediction prediction, double label, double? pairedDifference)
    {
        var metrics = prediction.Metrics;
        while (!metrics.TryRecordOutcome(prediction.Label, prediction.Value, label, prediction.Probability, pairedDifference))
        {
            var retired = metrics;
            metrics = _metrics.ForModel(retired.Key, () => retired.Profile);
        }
    }

    private void Forget(ulong key, int index)
    {
        _byId.Remove(key);
        _ring[index] = default;
    }

    /// <summary>FNV-1a over the id's UTF-16 code units, 64 bits wide.</summary>
    private static ulong KeyOf(string id)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in id)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash;
    }

    private static bool TryReadLabel(JsonElement element, out double label, out bool isBinary)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.True:
                label = 1;
                isBinary = true;
                return true;
            case JsonValueKind.False:
                label = 0;
                isBinary = true;
                return true;
            case JsonValueKind.Number when element.TryGetDouble(out label) && double.IsFinite(label):
                isBinary = label is 0 or 1;
                return true;
            default:
                label = 0;
                isBinary = false;
                return false;
        }
    }

    private static string Describe(JsonElement element) => element.ValueKind == JsonValueKind.Undefined ? "nothing" : element.GetRawText();

    private readonly record struct Prediction(ModelArmMetrics Metrics, bool? Label, double? Value, double? Probability);

    /// <summary>The predictions of one event: one per arm that scored it (two in shadow mode).</summary>
    private struct Slot(ulong key, long at, Prediction first, Prediction second)
    {
        public ulong Key = key;
        public long At = at;
        public Prediction First = first;
        public Prediction Second = second;
    }
}
