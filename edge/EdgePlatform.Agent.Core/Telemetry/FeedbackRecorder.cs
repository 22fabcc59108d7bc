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
/// outcomes of the version and arm that made each prediction: confusion counts for a binary
/// classifier, error sums for a regression model. In shadow mode both arms' predictions of an
/// event are labelled. A prediction is labelled once; later feedback for it is unmatched.
/// </summary>
public sealed class FeedbackRecorder
{
    private readonly Lock _gate = new();
    private readonly ScoringMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly TimeSpan _maxAge;
    private readonly Entry?[] _ring;
    private readonly Dictionary<string, Entry> _byId = new(StringComparer.Ordinal);
    private int _next;

    public FeedbackRecorder(ScoringMetrics metrics, IOptions<FeedbackOptions> options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _metrics = metrics;
        _time = timeProvider;
        _maxAge = TimeSpan.FromSeconds(options.Value.MaxAgeSeconds);
        _ring = new Entry?[options.Value.MemoryCapacity];
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

    /// <summary>
    /// Remembers one arm's prediction of the event <paramref name="correlationId"/>: its label for a
    /// classifier, its value for a regression model.
    /// </summary>
    public void Remember(string correlationId, ModelArmMetrics metrics, bool? label, double? value)
    {
        ArgumentNullException.ThrowIfNull(correlationId);
        ArgumentNullException.ThrowIfNull(metrics);
        if (_ring.Length == 0)
        {
            return;
        }

        var prediction = new Prediction(metrics, label, value);
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            if (_byId.TryGetValue(correlationId, out var existing))
            {
                existing.Add(prediction, now);
                return;
            }

            if (_ring[_next] is { } evicted)
            {
                _byId.Remove(evicted.Id);
            }

            var entry = new Entry(correlationId, prediction, now, _next);
            _ring[_next] = entry;
            _byId[correlationId] = entry;
            _next = (_next + 1) % _ring.Length;
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

        Entry? entry;
        lock (_gate)
        {
            if (_ring.Length == 0)
            {
                return new(FeedbackOutcome.Unmatched, feedback.Id, $"no predictions are remembered ({FeedbackOptions.Section}:{nameof(FeedbackOptions.MemoryCapacity)} is 0)");
            }

            if (!_byId.TryGetValue(feedback.Id, out entry))
            {
                return new(FeedbackOutcome.Unmatched, feedback.Id, $"no prediction for id '{feedback.Id}' is remembered (never scored here, already labelled, or forgotten)");
            }

            if (_time.GetElapsedTime(entry.At) > _maxAge)
            {
                Forget(entry);
                return new(FeedbackOutcome.Unmatched, feedback.Id, $"the prediction for id '{feedback.Id}' is older than {_maxAge.TotalSeconds:0} s and was forgotten");
            }

            if (entry.First.Metrics.Profile.IsClassifier && !isBinary)
            {
                return new(FeedbackOutcome.Malformed, feedback.Id, $"label {label} does not fit binary classifier '{entry.First.Metrics.Key.ModelName}': use true, false, 0 or 1");
            }

            Forget(entry);
        }

        var predictions = 0;
        foreach (var prediction in entry.Predictions)
        {
            Count(prediction, label);
            predictions++;
        }

        return new(FeedbackOutcome.Matched, feedback.Id, null, predictions);
    }

    /// <summary>Counts against the live metrics of the prediction's version and arm, even if the reporter retired the one it was made on.</summary>
    private void Count(Prediction prediction, double label)
    {
        var metrics = prediction.Metrics;
        while (!metrics.TryRecordOutcome(prediction.Label, prediction.Value, label))
        {
            var retired = metrics;
            metrics = _metrics.ForModel(retired.Key, () => retired.Profile);
        }
    }

    private void Forget(Entry entry)
    {
        _byId.Remove(entry.Id);
        if (ReferenceEquals(_ring[entry.Slot], entry))
        {
            _ring[entry.Slot] = null;
        }
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

    private readonly record struct Prediction(ModelArmMetrics Metrics, bool? Label, double? Value);

    /// <summary>The predictions of one event: one per arm that scored it (two in shadow mode).</summary>
    private sealed class Entry(string id, Prediction first, long at, int slot)
    {
        private Prediction? _second;

        public string Id { get; } = id;

        public int Slot { get; } = slot;

        public Prediction First { get; private set; } = first;

        public long At { get; private set; } = at;

        public IEnumerable<Prediction> Predictions => _second is { } second ? [First, second] : [First];

        /// <summary>Another arm's prediction of the same event, or a newer one of the same arm (an id reused).</summary>
        public void Add(Prediction prediction, long at)
        {
            if (ReferenceEquals(prediction.Metrics.Key, First.Metrics.Key) || prediction.Metrics.Key == First.Metrics.Key)
            {
                First = prediction;
                _second = null;
                At = at;
            }
            else
            {
                _second = prediction;
            }
        }
    }
}
