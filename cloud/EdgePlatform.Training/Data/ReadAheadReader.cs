using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace EdgePlatform.Training.Data;

/// <summary>
/// Reads the next batches of another reader on a background thread while the caller works on
/// the current one, so parsing and computing overlap on two cores. Each batch is copied out of
/// the inner reader's (reused) batch into one of <see cref="Depth"/> + 2 pooled batches: memory
/// stays bounded at a few batches. Errors of the inner reader surface from <see cref="ReadBatch"/>
/// in order; <see cref="Dispose"/> stops and joins the thread but leaves the inner reader to its owner.
/// </summary>
internal sealed class ReadAheadReader : ITabularReader
{
    private const int Depth = 2;

    private readonly ITabularReader _inner;
    private readonly BlockingCollection<DataBatch> _free = new(Depth + 2);
    private readonly BlockingCollection<DataBatch> _ready = new(Depth);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private DataBatch? _current;
    private ExceptionDispatchInfo? _error;

    public ReadAheadReader(ITabularReader inner)
    {
        _inner = inner;
        Schema = inner.Schema;
        _thread = new Thread(Produce) { IsBackground = true, Name = "dataset read-ahead" };
        _thread.Start();
    }

    public DataSchema Schema { get; }

    public DataBatch? ReadBatch(CancellationToken cancellationToken = default)
    {
        if (_current is not null)
        {
            _free.Add(_current, cancellationToken);
            _current = null;
        }

        if (_ready.TryTake(out var batch, Timeout.Infinite, cancellationToken))
        {
            _current = batch;
            return batch;
        }

        // The producer finished: at the end, or with the inner reader's error.
        _error?.Throw();
        return null;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _stop.Dispose();
        _free.Dispose();
        _ready.Dispose();
    }

    private void Produce()
    {
        var pooled = 0;
        try
        {
            while (_inner.ReadBatch(_stop.Token) is { } source)
            {
                if (!_free.TryTake(out var target))
                {
                    if (pooled < Depth + 2)
                    {
                        target = new DataBatch(Schema, source.Capacity);
                        pooled++;
                    }
                    else
                    {
                        target = _free.Take(_stop.Token);
                    }
                }

                if (target.Capacity < source.RowCount)
                {
                    target = new DataBatch(Schema, source.Capacity);
                }

                Copy(source, target);
                _ready.Add(target, _stop.Token);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _error = ExceptionDispatchInfo.Capture(ex);
        }
        finally
        {
            _ready.CompleteAdding();
        }
    }

    private static void Copy(DataBatch source, DataBatch target)
    {
        var rows = source.RowCount;
        for (var c = 0; c < source.Numbers.Length; c++)
        {
            if (source.Numbers[c] is { } numbers)
            {
                Array.Copy(numbers, target.Numbers[c]!, rows);
            }
            else
            {
                Array.Copy(source.Strings[c]!, target.Strings[c]!, rows);
            }
        }

        target.RowCount = rows;
        target.FirstLine = source.FirstLine;
    }
}
