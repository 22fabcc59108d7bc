using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using EdgePlatform.Contracts;
using EdgePlatform.Mqtt;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet.Protocol;

namespace EdgePlatform.Benchmarks;

/// <summary>
/// Sensors and a prediction consumer on the agent's local broker. Every event carries a
/// sequence number as its id; latency is from the publish call to the prediction's arrival.
/// </summary>
internal sealed class LoadClient : IAsyncDisposable
{
    // Ids are never reused within a model's run; the warm-up phases and batches of 1,024 send several million on a quiet machine.
    private const int MaxEvents = 12_000_000;
    private static readonly byte[] IdProperty = Encoding.UTF8.GetBytes("correlationId");

    private readonly MqttConnection _publisher;
    private readonly MqttConnection _subscriber;
    private readonly BenchModel _model;
    private readonly long[] _sentAt = new long[MaxEvents];
    private readonly long[] _receivedAt = new long[MaxEvents];
    private readonly SemaphoreSlim _window = new(0, int.MaxValue);
    private TaskCompletionSource<string> _swappedNext = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextId;
    private long _received;
    private long _duplicates;

    public LoadClient(int brokerPort, BenchModel model)
    {
        _model = model;
        _publisher = new MqttConnection(new MqttConnectionSettings("127.0.0.1", brokerPort, "bench-sensors") { CleanStart = true }, NullLogger.Instance);
        _subscriber = new MqttConnection(new MqttConnectionSettings("127.0.0.1", brokerPort, "bench-consumer") { CleanStart = true }, NullLogger.Instance);
        _subscriber.Subscribe(Topics.LocalPredictions);
        _subscriber.Subscribe(AgentHostMode.SwappedTopic);
        _subscriber.OnMessage(OnMessage);
    }

    public long Received => Interlocked.Read(ref _received);

    public long Duplicates => Interlocked.Read(ref _duplicates);

    public async Task ConnectAsync(TimeSpan patience)
    {
        _publisher.Start();
        _subscriber.Start();
        using var timeout = new CancellationTokenSource(patience);
        await _publisher.WaitConnectedAsync(timeout.Token);
        await _subscriber.WaitConnectedAsync(timeout.Token);
    }

    /// <summary>Sends one event every 5 ms until its prediction comes back; returns when the first did.</summary>
    public async Task<long> FirstPredictionAsync(TimeSpan patience)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(patience.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (_publisher.IsConnected)
            {
                await SendJsonAsync(MqttQualityOfServiceLevel.AtMostOnce);
            }

            await Task.Delay(5);
            for (var id = 0L; id < Interlocked.Read(ref _nextId); id++)
            {
                if (Volatile.Read(ref _receivedAt[id]) != 0)
                {
                    return Volatile.Read(ref _receivedAt[id]);
                }
            }
        }

        throw new TimeoutException("no prediction came back");
    }

    /// <summary>As many JSON events as the agent takes, with at most <paramref name="window"/> unanswered.</summary>
    public async Task<PhaseResult> ClosedLoopJsonAsync(string name, TimeSpan duration, int window) =>
        await ClosedLoopAsync(name, duration, window, () => SendJsonAsync(MqttQualityOfServiceLevel.AtMostOnce));

    /// <summary>As many Arrow batches of <paramref name="batchSize"/> as the agent takes, at most <paramref name="window"/> unanswered.</summary>
    public async Task<PhaseResult> ClosedLoopArrowAsync(string name, TimeSpan duration, int window, int batchSize) =>
        await ClosedLoopAsync(name, duration, window, () => SendArrowAsync(batchSize));

    /// <summary>
    /// JSON events offered at <paramref name="rate"/> per second whatever the agent does;
    /// <paramref name="during"/> runs beside the load (a hot swap) and returns send-time windows to report on.
    /// </summary>
    public async Task<(PhaseResult All, List<double> WindowLatencies)> PacedJsonAsync(
        string name, TimeSpan duration, int rate, Func<long, Task<List<(long From, long To)>>>? during = null)
    {
        var firstId = Interlocked.Read(ref _nextId);
        var started = Stopwatch.GetTimestamp();
        var end = started + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var sideTask = during?.Invoke(started) ?? Task.FromResult(new List<(long, long)>());
        long sent = 0;
        var pending = new List<Task>(64);
        while (Stopwatch.GetTimestamp() < end)
        {
            var due = (long)(Stopwatch.GetElapsedTime(started).TotalSeconds * rate);
            pending.Clear();
            while (sent < due)
            {
                pending.Add(SendJsonAsync(MqttQualityOfServiceLevel.AtLeastOnce));
                sent++;
            }

            await Task.WhenAll(pending);
            await Task.Delay(1);
        }

        var windows = await sideTask;
        var lastId = Interlocked.Read(ref _nextId);
        await DrainAsync(firstId, lastId, TimeSpan.FromSeconds(10));
        var latencies = Latencies(firstId + (rate / 2), lastId);
        var windowLatencies = new List<double>();
        for (var id = firstId; id < lastId; id++)
        {
            if (_receivedAt[id] != 0 && windows.Exists(w => _sentAt[id] >= w.From && _sentAt[id] <= w.To))
            {
                windowLatencies.Add(Stopwatch.GetElapsedTime(_sentAt[id], _receivedAt[id]).TotalMilliseconds);
            }
        }

        var received = CountReceived(firstId, lastId);
        return (PhaseResult.From(name, lastId - firstId, received, received / duration.TotalSeconds, latencies), windowLatencies);
    }

    /// <summary>Asks the agent to stage and activate <paramref name="version"/>; completes when it has.</summary>
    public async Task SwapAsync(string version)
    {
        var swapped = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _swappedNext, swapped);
        await _publisher.PublishAsync(AgentHostMode.SwapTopic, Encoding.UTF8.GetBytes(version), CancellationToken.None, MqttQualityOfServiceLevel.AtLeastOnce);
        await swapped.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async ValueTask DisposeAsync()
    {
        await _publisher.DisposeAsync();
        await _subscriber.DisposeAsync();
        _window.Dispose();
    }

    private async Task<PhaseResult> ClosedLoopAsync(string name, TimeSpan duration, int window, Func<Task> send)
    {
        // Answers to a phase that paces itself release the window too, with nobody taking them;
        // left there, they would let this phase send without bound and the agent shed load.
        while (_window.Wait(0))
        {
        }

        var firstId = Interlocked.Read(ref _nextId);
        var started = Stopwatch.GetTimestamp();
        var warmEnd = PhaseResult.MeasuredFrom(started, duration, TimeSpan.FromSeconds(1));
        var end = started + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var credits = window;
        long warmId = -1;
        long measuredFrom = 0;
        var stalls = 0;
        while (Stopwatch.GetTimestamp() < end)
        {
            if (credits == 0)
            {
                if (!await _window.WaitAsync(TimeSpan.FromSeconds(1)))
                {
                    stalls++;
                    credits = window;
                    continue;
                }

                credits++;
            }

            while (_window.Wait(0))
            {
                credits++;
            }

            if (warmId < 0 && Stopwatch.GetTimestamp() >= warmEnd)
            {
                warmId = Interlocked.Read(ref _nextId);
                measuredFrom = Stopwatch.GetTimestamp();
            }

            await send();
            credits--;
        }

        var lastId = Interlocked.Read(ref _nextId);
        var measuredTo = Stopwatch.GetTimestamp();
        await DrainAsync(firstId, lastId, TimeSpan.FromSeconds(10));
        warmId = warmId < 0 ? firstId : warmId;
        var answeredInWindow = 0L;
        for (var id = warmId; id < lastId; id++)
        {
            if (_receivedAt[id] != 0 && _receivedAt[id] <= measuredTo)
            {
                answeredInWindow++;
            }
        }

        var seconds = Stopwatch.GetElapsedTime(measuredFrom == 0 ? started : measuredFrom, measuredTo).TotalSeconds;
        return PhaseResult.From(name, lastId - firstId, CountReceived(firstId, lastId), answeredInWindow / seconds, Latencies(warmId, lastId))
            with { Note = stalls == 0 ? null : $"{stalls} window stall(s)" };
    }

    private async Task DrainAsync(long firstId, long lastId, TimeSpan patience)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(patience.TotalSeconds * Stopwatch.Frequency);
        while (CountReceived(firstId, lastId) < lastId - firstId && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(20);
        }
    }

    private long CountReceived(long firstId, long lastId)
    {
        long count = 0;
        for (var id = firstId; id < lastId; id++)
        {
            if (Volatile.Read(ref _receivedAt[id]) != 0)
            {
                count++;
            }
        }

        return count;
    }

    private List<double> Latencies(long firstId, long lastId)
    {
        var latencies = new List<double>((int)Math.Max(0, lastId - firstId));
        for (var id = firstId; id < lastId; id++)
        {
            if (_receivedAt[id] != 0)
            {
                latencies.Add(Stopwatch.GetElapsedTime(_sentAt[id], _receivedAt[id]).TotalMilliseconds);
            }
        }

        return latencies;
    }

    private Task SendJsonAsync(MqttQualityOfServiceLevel qos)
    {
        var id = Interlocked.Increment(ref _nextId) - 1;
        var payload = _model.Json((int)(id % _model.Rows.Count), id);
        _sentAt[id] = Stopwatch.GetTimestamp();
        return _publisher.PublishAsync("events/bench", payload, CancellationToken.None, qos);
    }

    private Task SendArrowAsync(int batchSize)
    {
        var firstId = Interlocked.Add(ref _nextId, batchSize) - batchSize;
        var builder = new RecordBatch.Builder()
            .Append(EventFields.CorrelationId, false, column => column.Int64(values =>
            {
                for (var i = 0L; i < batchSize; i++)
                {
                    values.Append(firstId + i);
                }
            }));
        for (var f = 0; f < _model.Fields.Count; f++)
        {
            var field = f;
            builder.Append(_model.Fields[f], false, column => column.Float(values =>
            {
                for (var i = 0; i < batchSize; i++)
                {
                    values.Append(_model.Rows[(int)((firstId + i) % _model.Rows.Count)][field]);
                }
            }));
        }

        using var batch = builder.Build();
        using var buffer = new MemoryStream();
        using (var writer = new ArrowStreamWriter(buffer, batch.Schema, leaveOpen: true))
        {
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }

        var now = Stopwatch.GetTimestamp();
        for (var i = 0; i < batchSize; i++)
        {
            _sentAt[firstId + i] = now;
        }

        return _publisher.PublishAsync("events/bench", buffer.ToArray(), CancellationToken.None, MqttQualityOfServiceLevel.AtMostOnce, contentType: MediaTypes.ArrowStream);
    }

    private Task OnMessage(MqttIncoming message, CancellationToken cancellationToken)
    {
        var now = Stopwatch.GetTimestamp();
        if (message.Topic == AgentHostMode.SwappedTopic)
        {
            Volatile.Read(ref _swappedNext).TrySetResult(Encoding.UTF8.GetString(message.Payload.Span));
            return Task.CompletedTask;
        }

        var payload = message.Payload.Span;
        if (payload.Length > 0 && payload[0] == 0xFF)
        {
            using var reader = new ArrowStreamReader(message.Payload);
            while (reader.ReadNextRecordBatch() is { } batch)
            {
                using (batch)
                {
                    var ids = (StringArray)batch.Column("id");
                    for (var i = 0; i < batch.Length; i++)
                    {
                        Answered(long.Parse(ids.GetString(i), CultureInfo.InvariantCulture), now);
                    }
                }
            }

            _window.Release();
            return Task.CompletedTask;
        }

        var json = new Utf8JsonReader(payload);
        while (json.Read())
        {
            if (json.TokenType == JsonTokenType.PropertyName && json.ValueTextEquals(IdProperty))
            {
                json.Read();
                Answered(long.Parse(json.GetString()!, CultureInfo.InvariantCulture), now);
                _window.Release();
                break;
            }
        }

        return Task.CompletedTask;
    }

    private void Answered(long id, long now)
    {
        if (id < 0 || id >= MaxEvents)
        {
            return;
        }

        if (Interlocked.CompareExchange(ref _receivedAt[id], now, 0) != 0)
        {
            Interlocked.Increment(ref _duplicates);
            return;
        }

        Interlocked.Increment(ref _received);
    }
}
