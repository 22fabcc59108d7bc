using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using EdgePlatform.Agent.Core.Telemetry;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Agent.Inference.Tests;
using EdgePlatform.Agent.Links;
using EdgePlatform.Agent.Scoring;
using EdgePlatform.Contracts;
using EdgePlatform.Mqtt;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MQTTnet.Protocol;

namespace EdgePlatform.Agent.Tests.Scoring;

/// <summary>The broker path end to end inside one process: the embedded local broker, the scoring service and the engine.</summary>
[Collection(TestModelsGroup.Name)]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the test through IAsyncLifetime.DisposeAsync.")]
public sealed class EventScoringServiceTests(TestModels models) : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _stop = new();
    private const string ProbeTopic = "events/probe";

    private readonly Channel<(string Topic, byte[] Payload)> _received = Channel.CreateUnbounded<(string, byte[])>();
    private readonly ScoringMetrics _metrics = new();
    private bool _subscribed;
    private FeedbackRecorder? _feedback;
    private LocalBroker? _broker;
    private LocalBroker? _externalView;
    private InferenceEngine? _engine;
    private Task? _engineRun;
    private EventScoringService? _service;
    private MqttConnection? _client;

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>
    /// Starts an embedded broker; the service either uses it in-process (embedded) or connects
    /// to it as a client, as it does to an external broker.
    /// </summary>
    private async Task StartAsync(bool external)
    {
        _broker = new LocalBroker(Options.Create(new LocalBrokerOptions { Port = 0 }), NullLogger<LocalBroker>.Instance);
        await _broker.StartAsync(_stop.Token);
        var serviceOptions = Options.Create(external
            ? new LocalBrokerOptions { Mode = "external", Host = _broker.Host, Port = _broker.Port }
            : new LocalBrokerOptions { Port = _broker.Port });
        var serviceBroker = _broker;
        if (external)
        {
            _externalView = new LocalBroker(serviceOptions, NullLogger<LocalBroker>.Instance);
            await _externalView.StartAsync(_stop.Token);
            serviceBroker = _externalView;
        }

        _feedback = new FeedbackRecorder(_metrics, Options.Create(new FeedbackOptions()), TimeProvider.System);
        _engine = new InferenceEngine(
            new ModelHost(NullLogger<ModelHost>.Instance),
            new InferenceEngineOptions { MaxQueueDelayMs = 1 },
            TimeProvider.System,
            NullLoggerFactory.Instance,
            new ScoringTelemetry(_metrics, _feedback));
        _engine.Control.Activate(models.LoadScalar("4.2.0"));
        _engineRun = _engine.RunAsync(_stop.Token);
        _service = new EventScoringService(_engine, _metrics, _feedback, serviceOptions, serviceBroker, TimeProvider.System, NullLoggerFactory.Instance);
        await _service.StartAsync(_stop.Token);

        _client = new MqttConnection(new MqttConnectionSettings(_broker.Host, _broker.Port, "sensor") { CleanStart = true }, NullLogger.Instance);
        _client.Subscribe(Topics.LocalPredictions);
        _client.Subscribe(Topics.LocalDeadLetter);
        _client.Subscribe(Topics.LocalFeedbackDeadLetter);
        _client.OnMessage((message, _) =>
        {
            var payload = message.Payload.ToArray();
            if (!Volatile.Read(ref _subscribed) || !IsProbeLetter(message.Topic, payload))
            {
                _received.Writer.TryWrite((message.Topic, payload));
            }

            return Task.CompletedTask;
        });
        _client.Start();
        await _client.WaitConnectedAsync(_stop.Token).WaitAsync(Patience);
        await WaitUntilServiceSubscribedAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task JsonArrowAndMalformedEvents_EachGetsExactlyOneOutcomeOnItsTopic(bool externalBroker)
    {
        await StartAsync(externalBroker);
        const int JsonEvents = 300;
        for (var i = 0; i < JsonEvents; i++)
        {
            await PublishAsync("events/pump-1", TestModels.EventJson(models.TestRows[i % models.TestRows.Count], $"j{i}"));
        }

        await PublishAsync("events/pump-1", Encoding.UTF8.GetBytes($"{{\"id\":\"bad\",\"{TestModels.Temperature}\":\"hot\"}}"));
        await PublishAsync("events/pump-2", ArrowBatch(models.TestRows.Take(64).ToList()));

        var predictions = new List<Prediction>();
        var arrowPredictions = new List<(string? Id, string Arm, string Version, float? Score)>();
        var deadLetters = new List<DeadLetter>();
        while (predictions.Count < JsonEvents || arrowPredictions.Count < 64 || deadLetters.Count < 1)
        {
            using var timeout = new CancellationTokenSource(Patience);
            var (topic, payload) = await _received.Reader.ReadAsync(timeout.Token);
            if (topic == Topics.LocalDeadLetter)
            {
                deadLetters.Add(JsonSerializer.Deserialize(payload, ContractsJsonContext.Default.DeadLetter)!);
            }
            else if (payload[0] == 0xFF)
            {
                arrowPredictions.AddRange(ReadArrowPredictions(payload));
            }
            else
            {
                predictions.Add(JsonSerializer.Deserialize(payload, ContractsJsonContext.Default.Prediction)!);
            }
        }

        Assert.Equal(Enumerable.Range(0, JsonEvents).Select(i => $"j{i}").Order(), predictions.Select(p => p.CorrelationId).Order());
        Assert.All(predictions, p =>
        {
            Assert.Equal("4.2.0", p.ModelVersion);
            Assert.Equal(Arms.Control, p.Arm);
            Assert.NotNull(p.Score);
        });
        Assert.Equal(Enumerable.Range(0, 64).Select(i => $"a{i}").Order(), arrowPredictions.Select(p => p.Id).Order());
        var letter = Assert.Single(deadLetters);
        Assert.Equal("events/pump-1", letter.SourceTopic);
        Assert.Equal($"field '{TestModels.Temperature}' is a string, expected a number", letter.Reason);
        Assert.Equal(JsonEvents + 64, _engine!.Counters.Scored);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Feedback_MatchedUnmatchedAndMalformed_CountedPerVersionAndTheRejectedDeadLettered(bool externalBroker)
    {
        await StartAsync(externalBroker);
        const int Events = 20;
        for (var i = 0; i < Events; i++)
        {
            await PublishAsync("events/pump-1", TestModels.EventJson(models.TestRows[i], $"f{i}"));
        }

        var predicted = new Dictionary<string, bool>();
        while (predicted.Count < Events)
        {
            using var timeout = new CancellationTokenSource(Patience);
            var (topic, payload) = await _received.Reader.ReadAsync(timeout.Token);
            Assert.Equal(Topics.LocalPredictions, topic);
            var prediction = JsonSerializer.Deserialize(payload, ContractsJsonContext.Default.Prediction)!;
            predicted[prediction.CorrelationId!] = prediction.Label!.Value;
        }

        // Even-numbered events were truly positive.
        for (var i = 0; i < Events; i++)
        {
            await PublishAsync("feedback/pump-1", Encoding.UTF8.GetBytes($"{{\"id\":\"f{i}\",\"label\":{(i % 2 == 0 ? "true" : "0")}}}"));
        }

        await PublishAsync("feedback/pump-1", Encoding.UTF8.GetBytes("{\"id\":\"ghost\",\"label\":true}"));
        await PublishAsync("feedback/pump-2", Encoding.UTF8.GetBytes("label: yes"));

        var rejected = new List<DeadLetter>();
        while (rejected.Count < 2)
        {
            using var timeout = new CancellationTokenSource(Patience);
            var (topic, payload) = await _received.Reader.ReadAsync(timeout.Token);
            Assert.Equal(Topics.LocalFeedbackDeadLetter, topic);
            rejected.Add(JsonSerializer.Deserialize(payload, ContractsJsonContext.Default.DeadLetter)!);
        }

        Assert.Equal(("ghost", "feedback/pump-1"), (rejected[0].CorrelationId, rejected[0].SourceTopic));
        Assert.Contains("no prediction for id 'ghost'", rejected[0].Reason, StringComparison.Ordinal);
        Assert.Equal("feedback/pump-2", rejected[1].SourceTopic);
        Assert.StartsWith("not a feedback document", rejected[1].Reason, StringComparison.Ordinal);
        var interval = _metrics.TakeInterval();
        Assert.Equal((1L, 1L), (interval.FeedbackUnmatched, interval.FeedbackMalformed));
        var quality = Assert.Single(_metrics.TakeModelIntervals(DateTimeOffset.UtcNow, 10_000)).Quality;
        Assert.Equal("4.2.0", quality.ModelVersion);
        Assert.Equal(Events, quality.Labelled);
        Assert.Equal(Enumerable.Range(0, Events).Count(i => predicted[$"f{i}"] && i % 2 == 0), quality.TruePositives);
        Assert.Equal(Enumerable.Range(0, Events).Count(i => predicted[$"f{i}"] && i % 2 == 1), quality.FalsePositives);
        Assert.Equal(Enumerable.Range(0, Events).Count(i => !predicted[$"f{i}"] && i % 2 == 1), quality.TrueNegatives);
        Assert.Equal(Enumerable.Range(0, Events).Count(i => !predicted[$"f{i}"] && i % 2 == 0), quality.FalseNegatives);
    }

    [Fact]
    public async Task ArrowBatchWithAColumnTheAgentCannotRead_DeadLetteredOnceNamingTheColumnEachRowCounted()
    {
        await StartAsync(external: false);
        const int Rows = 8;
        var rows = models.TestRows.Take(Rows).ToList();
        var before = _metrics.TotalDeadLettered;

        await PublishAsync("events/pump-3", ArrowBatch(rows, ids: new BooleanArray.Builder().AppendRange(rows.Select((_, i) => i % 2 == 0)).Build()));
        await PublishAsync("events/pump-3", ArrowBatch(rows, temperatures: new TimestampArray.Builder().AppendRange(rows.Select(_ => DateTimeOffset.UnixEpoch)).Build()));
        var temperatures = new FloatArray.Builder();
        for (var i = 0; i < Rows; i++)
        {
            if (i is 3 or 5) { temperatures.AppendNull(); } else { temperatures.Append(rows[i].Temperature); }
        }

        await PublishAsync("events/pump-3", ArrowBatch(rows, temperatures: temperatures.Build()));
        await PublishAsync("events/pump-3", TestModels.EventJson(rows[0], "after"));

        // Outcomes are published in order: every letter for the two batches comes before the prediction that follows them.
        var deadLetters = new List<DeadLetter>();
        var scoredIds = new List<string?>();
        while (true)
        {
            using var timeout = new CancellationTokenSource(Patience);
            var (topic, payload) = await _received.Reader.ReadAsync(timeout.Token);
            if (topic == Topics.LocalDeadLetter)
            {
                deadLetters.Add(JsonSerializer.Deserialize(payload, ContractsJsonContext.Default.DeadLetter)!);
            }
            else if (payload[0] == 0xFF)
            {
                scoredIds.AddRange(ReadArrowPredictions(payload).Select(p => p.Id));
            }
            else if (JsonSerializer.Deserialize(payload, ContractsJsonContext.Default.Prediction)!.CorrelationId == "after")
            {
                break;
            }
        }

        Assert.Collection(
            deadLetters.Where(letter => letter.SourceTopic == "events/pump-3"),
            unreadableId =>
            {
                Assert.StartsWith("column 'id' is a column of bool, which the agent cannot read as an event id", unreadableId.Reason, StringComparison.Ordinal);
                Assert.Equal($"all {Rows} rows of an Arrow record batch", unreadableId.Payload);
            },
            unreadableField =>
            {
                Assert.Equal($"field '{TestModels.Temperature}' is a column of timestamp, expected a number", unreadableField.Reason);
                Assert.Equal($"all {Rows} rows of an Arrow record batch", unreadableField.Payload);
            },
            nullValues =>
            {
                Assert.Equal($"field '{TestModels.Temperature}' is null", nullValues.Reason);
                Assert.Equal($"rows 3, 5 of an Arrow record batch of {Rows} rows", nullValues.Payload);
            });
        Assert.Equal(["a0", "a1", "a2", "a4", "a6", "a7"], scoredIds);
        Assert.True(_metrics.TotalDeadLettered - before >= (2 * Rows) + 2, $"{_metrics.TotalDeadLettered - before} dead letters counted for {(2 * Rows) + 2} rows");
    }

    /// <summary>
    /// The batch a Node.js producer writes with Apache Arrow's JavaScript library, sent as a user
    /// would, with <c>mosquitto_pub -f</c>: its dictionary-encoded (then large_utf8) ids come back on
    /// the predictions, and its int32 and float64 features score as the same rows sent as JSON.
    /// </summary>
    [ArrowJsFact]
    [Trait("Category", "Integration")]
    public async Task ArrowBatchFromArrowJs_PredictionsCarryEachIdAndScoreAsTheSameRowsAsJson()
    {
        await StartAsync(external: false);
        const int Rows = 40;
        var rows = models.TestRows.Take(Rows).Select(row => new SensorRow
        {
            // Written as int32 by the producer, so whole degrees.
            Temperature = MathF.Round(row.Temperature),
            Vibration = row.Vibration,
            Pressure = row.Pressure,
        }).ToList();
        var directory = Directory.CreateTempSubdirectory("edgeplatform-arrow-js-").FullName;
        try
        {
            var sent = new Dictionary<string, int>();
            foreach (var (encoding, prefix, expectedIdType) in new[] { ("dictionary", "js", "id: Dictionary<Int32, Utf8>"), ("large-utf8", "jsl", "id: LargeUtf8") })
            {
                var (file, schema) = await ArrowJs.WriteEventsAsync(
                    rows.Select((row, i) => (object)new Dictionary<string, object>
                    {
                        ["id"] = $"{prefix}-{i}",
                        ["temperature_c"] = (int)row.Temperature,
                        ["vibration_mm_s"] = (double)row.Vibration,
                        ["pressure_kpa"] = (double)row.Pressure,
                        ["site"] = i % 2 == 0 ? "north" : "south",
                    }),
                    encoding,
                    directory,
                    _stop.Token);
                Assert.Contains(expectedIdType, schema, StringComparison.Ordinal);
                Assert.Contains("temperature_c: Int32", schema, StringComparison.Ordinal);
                Assert.Contains("vibration_mm_s: Float64", schema, StringComparison.Ordinal);

                var (exitCode, output) = await Links.MosquittoClients.PublishAsync(
                    "-h", _broker!.Host, "-p", _broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-i", $"arrow-js-{encoding}",
                    "-V", "mqttv5", "-q", "1", "-t", "events/arrow-js", "-f", file);
                Assert.True(exitCode == 0, $"mosquitto_pub exited with {exitCode}: {output}");
                for (var i = 0; i < Rows; i++)
                {
                    sent[$"{prefix}-{i}"] = i;
                }
            }

            for (var i = 0; i < Rows; i++)
            {
                sent[$"json-{i}"] = i;
                await PublishAsync("events/json", TestModels.EventJson(rows[i], $"json-{i}"));
            }

            var scores = new Dictionary<string, float>();
            while (scores.Count < sent.Count)
            {
                using var timeout = new CancellationTokenSource(Patience);
                var (topic, payload) = await _received.Reader.ReadAsync(timeout.Token);
                Assert.True(topic == Topics.LocalPredictions, $"{topic}: {Encoding.UTF8.GetString(payload)}");
                if (payload[0] == 0xFF)
                {
                    foreach (var prediction in ReadArrowPredictions(payload))
                    {
                        Assert.True(prediction.Id is not null, "an Arrow prediction came back without its event's id");
                        scores.Add(prediction.Id, prediction.Score!.Value);
                    }
                }
                else
                {
                    var prediction = JsonSerializer.Deserialize(payload, ContractsJsonContext.Default.Prediction)!;
                    scores.Add(prediction.CorrelationId!, prediction.Score!.Value);
                }
            }

            Assert.Equal(sent.Keys.Order(StringComparer.Ordinal), scores.Keys.Order(StringComparer.Ordinal));
            foreach (var (id, row) in sent)
            {
                var json = scores[$"json-{row}"];
                Assert.True(Math.Abs(scores[id] - json) <= 1e-5f * Math.Max(1f, Math.Abs(json)), $"{id}: {scores[id]:R}, as JSON {json:R}");
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    public async Task DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }

        await _stop.CancelAsync();
        if (_service is not null)
        {
            await _service.StopAsync(CancellationToken.None);
            _service.Dispose();
        }

        if (_engineRun is not null)
        {
            await _engineRun.WaitAsync(Patience);
        }

        _externalView?.Dispose();
        if (_broker is not null)
        {
            await _broker.StopAsync(CancellationToken.None);
            _broker.Dispose();
        }

        _stop.Dispose();
    }

    /// <summary>
    /// The service subscribes on its own connection; a probe event is sent until its dead letter
    /// comes back, which proves the subscription is in place.
    /// </summary>
    private async Task WaitUntilServiceSubscribedAsync()
    {
        using var overall = new CancellationTokenSource(Patience);
        while (true)
        {
            await PublishAsync(ProbeTopic, Encoding.UTF8.GetBytes("{\"probe\":true}"));
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(overall.Token);
            attempt.CancelAfter(TimeSpan.FromMilliseconds(250));
            try
            {
                var (topic, _) = await _received.Reader.ReadAsync(attempt.Token);
                Assert.Equal(Topics.LocalDeadLetter, topic);
                break;
            }
            catch (OperationCanceledException) when (!overall.IsCancellationRequested)
            {
                // Not subscribed yet; probe again.
            }
        }

        // Later probes may still be on their way: from now on their dead letters are dropped on
        // arrival, and those already queued are discarded here.
        Volatile.Write(ref _subscribed, true);
        while (_received.Reader.TryPeek(out var queued) && IsProbeLetter(queued.Topic, queued.Payload))
        {
            _received.Reader.TryRead(out _);
        }
    }

    private static bool IsProbeLetter(string topic, byte[] payload) =>
        topic == Topics.LocalDeadLetter
        && JsonSerializer.Deserialize(payload, ContractsJsonContext.Default.DeadLetter)?.SourceTopic == ProbeTopic;

    private Task PublishAsync(string topic, byte[] payload) =>
        _client!.PublishAsync(topic, payload, _stop.Token, MqttQualityOfServiceLevel.AtLeastOnce);

    /// <summary>The rows as an Arrow stream of one batch; <paramref name="ids"/> or <paramref name="temperatures"/> replace those columns.</summary>
    private static byte[] ArrowBatch(List<SensorRow> rows, IArrowArray? ids = null, IArrowArray? temperatures = null)
    {
        IArrowArray[] columns =
        [
            ids ?? new StringArray.Builder().AppendRange(rows.Select((_, i) => $"a{i}")).Build(),
            temperatures ?? new FloatArray.Builder().AppendRange(rows.Select(row => row.Temperature)).Build(),
            new FloatArray.Builder().AppendRange(rows.Select(row => row.Vibration)).Build(),
            new FloatArray.Builder().AppendRange(rows.Select(row => row.Pressure)).Build(),
        ];
        string[] names = [EventFields.CorrelationId, TestModels.Temperature, TestModels.Vibration, TestModels.Pressure];
        using var batch = new RecordBatch(
            new Schema([.. names.Select((name, i) => new Field(name, columns[i].Data.DataType, nullable: false))], null),
            columns,
            rows.Count);
        using var buffer = new MemoryStream();
        using (var writer = new ArrowStreamWriter(buffer, batch.Schema, leaveOpen: true))
        {
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }

        return buffer.ToArray();
    }

    private static List<(string? Id, string Arm, string Version, float? Score)> ReadArrowPredictions(byte[] payload)
    {
        using var reader = new ArrowStreamReader(payload);
        var result = new List<(string?, string, string, float?)>();
        while (reader.ReadNextRecordBatch() is { } batch)
        {
            using (batch)
            {
                var ids = (StringArray)batch.Column("id");
                var arms = (StringArray)batch.Column("arm");
                var versions = (StringArray)batch.Column("model_version");
                var scores = (FloatArray)batch.Column("score");
                for (var i = 0; i < batch.Length; i++)
                {
                    result.Add((ids.GetString(i), arms.GetString(i), versions.GetString(i), scores.GetValue(i)));
                }
            }
        }

        return result;
    }
}
