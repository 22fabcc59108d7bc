using Microsoft.Extensions.Logging;

namespace EdgePlatform.Agent.Inference;

/// <summary>
/// Holds the model that scores events now, and swaps it for a new one without dropping or
/// failing an event: an event runs to completion on the model that took it, and a model that
/// was swapped out is disposed only once the last event on it has finished.
/// </summary>
/// <remarks>
/// <see cref="Activate"/> and <see cref="Deactivate"/> may be called from any thread, while
/// scoring goes on. Scoring itself inherits <see cref="ScoringModel"/>'s rule: one scoring
/// thread at a time.
/// </remarks>
public sealed class ModelHost : IDisposable
{
    private readonly ILogger<ModelHost> _logger;
    private HostedModel? _active;
    private volatile bool _disposed;

    public ModelHost(ILogger<ModelHost> logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
    }

    /// <summary>The model that scores new events, or null when none is active.</summary>
    public ModelIdentity? Active => Volatile.Read(ref _active)?.Model.Identity;

    /// <summary>The card of the model that scores new events, or null when none is active.</summary>
    public EdgePlatform.Contracts.ModelCard? ActiveCard => Volatile.Read(ref _active)?.Model.Card;

    /// <summary>
    /// Makes <paramref name="next"/> (loaded and, ideally, warmed) the model for new events.
    /// The host owns it from here on and disposes it after it has been swapped out in turn.
    /// </summary>
    /// <returns>The model swapped out, or null when none was active.</returns>
    public RetiredModel? Activate(ScoringModel next)
    {
        ArgumentNullException.ThrowIfNull(next);
        ObjectDisposedException.ThrowIf(_disposed, this);
        ObjectDisposedException.ThrowIf(next.IsDisposed, next);
        if (!next.TryClaimForHost())
        {
            throw new ArgumentException($"model '{next.Identity.Name}' {next.Identity.Version} is already owned by a model host", nameof(next));
        }

        var previous = Interlocked.Exchange(ref _active, new HostedModel(next, _logger));
        Log.ModelActivated(_logger, next.Identity.Name, next.Identity.Version, next.Identity.OnnxDigest);
        var retired = previous is null ? null : Retire(previous);
        if (_disposed)
        {
            // Dispose ran while this swap was under way; it must not leave a model behind.
            Deactivate();
        }

        return retired;
    }

    /// <summary>Stops scoring: later events find no active model.</summary>
    /// <returns>The model that was active, or null when none was.</returns>
    public RetiredModel? Deactivate()
    {
        var previous = Interlocked.Exchange(ref _active, null);
        return previous is null ? null : Retire(previous);
    }

    /// <summary>
    /// Takes a lease on the active model, for a caller that binds and scores in steps (a
    /// micro-batcher): the model stays usable until the lease is disposed, however many swaps
    /// happen meanwhile. Dispose every lease exactly once.
    /// </summary>
    /// <returns>False when no model is active.</returns>
    public bool TryAcquire(out ModelLease lease)
    {
        while (Volatile.Read(ref _active) is { } active)
        {
            if (active.TryAddReference())
            {
                lease = new ModelLease(active);
                return true;
            }

            // That model was swapped out and drained between the read and the reference;
            // the one that replaced it is in _active by now.
        }

        lease = default;
        return false;
    }

    /// <summary>Scores a JSON event on the active model.</summary>
    /// <returns>False, with a default result, when no model is active.</returns>
    /// <exception cref="EventBindingException">The event cannot be bound to the active model's inputs.</exception>
    public bool TryScore(ReadOnlySpan<byte> jsonEvent, out ScoreResult result)
    {
        if (!TryAcquire(out var lease))
        {
            result = default;
            return false;
        }

        using (lease)
        {
            result = lease.Model.Score(jsonEvent);
            return true;
        }
    }

    /// <summary>Scores a JSON event on the active model.</summary>
    /// <exception cref="InvalidOperationException">No model is active.</exception>
    /// <exception cref="EventBindingException">The event cannot be bound to the active model's inputs.</exception>
    public ScoreResult Score(ReadOnlySpan<byte> jsonEvent) =>
        TryScore(jsonEvent, out var result) ? result : throw new InvalidOperationException("no model is active");

    /// <summary>Deactivates the active model; it is disposed once its in-flight events finish.</summary>
    public void Dispose()
    {
        _disposed = true;
        Deactivate();
    }

    private RetiredModel Retire(HostedModel hosted)
    {
        var identity = hosted.Model.Identity;
        Log.ModelRetired(_logger, identity.Name, identity.Version, identity.OnnxDigest);
        var retired = new RetiredModel(identity, hosted.Disposed);
        hosted.Release();
        return retired;
    }
}

/// <summary>A model swapped out of a <see cref="ModelHost"/>.</summary>
public sealed class RetiredModel
{
    internal RetiredModel(ModelIdentity model, Task disposed)
    {
        Model = model;
        Disposed = disposed;
    }

    public ModelIdentity Model { get; }

    /// <summary>Completes once the events in flight on the model have finished and it has been disposed.</summary>
    public Task Disposed { get; }
}

/// <summary>
/// Use of a hosted model that keeps it from being disposed. A struct so that taking one per
/// event allocates nothing; dispose it exactly once, and do not copy it to dispose twice.
/// </summary>
public readonly struct ModelLease : IDisposable, IEquatable<ModelLease>
{
    private readonly HostedModel? _hosted;

    internal ModelLease(HostedModel hosted) => _hosted = hosted;

    /// <exception cref="InvalidOperationException">The lease is default, not taken from a host.</exception>
    public ScoringModel Model => _hosted?.Model ?? throw new InvalidOperationException("this lease was not taken from a model host");

    public void Dispose() => _hosted?.Release();

    public bool Equals(ModelLease other) => ReferenceEquals(_hosted, other._hosted);

    public override bool Equals(object? obj) => obj is ModelLease other && Equals(other);

    public override int GetHashCode() => _hosted?.GetHashCode() ?? 0;

    public static bool operator ==(ModelLease left, ModelLease right) => left.Equals(right);

    public static bool operator !=(ModelLease left, ModelLease right) => !left.Equals(right);
}

/// <summary>A model inside a host, counting its users so that the last one out disposes it.</summary>
internal sealed class HostedModel
{
    private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;

    // Starts at one, the host's own reference, which is released when the model is swapped out.
    private int _references = 1;

    public HostedModel(ScoringModel model, ILogger logger)
    {
        Model = model;
        _logger = logger;
    }

    public ScoringModel Model { get; }

    public Task Disposed => _disposed.Task;

    /// <summary>False once the count has reached zero: the model is disposed, or about to be.</summary>
    public bool TryAddReference()
    {
        var references = Volatile.Read(ref _references);
        while (references > 0)
        {
            var seen = Interlocked.CompareExchange(ref _references, references + 1, references);
            if (seen == references)
            {
                return true;
            }

            references = seen;
        }

        return false;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) != 0)
        {
            return;
        }

        try
        {
            Model.Dispose();
        }
        finally
        {
            _disposed.TrySetResult();
        }

        Log.RetiredModelDisposed(_logger, Model.Identity.Name, Model.Identity.Version, Model.Identity.OnnxDigest);
    }
}
