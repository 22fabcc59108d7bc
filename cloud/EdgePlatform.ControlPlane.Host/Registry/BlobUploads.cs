using System.Collections.Concurrent;
using System.Security.Cryptography;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Registry;

/// <summary>
/// Blob uploads in progress, each a file in the data directory's <c>blobs/uploads</c> that grows
/// chunk by chunk while its sha256 is computed on the way in. Completing an upload writes the
/// file into the artifact store under its digest, which checks it again, so a blob is never
/// visible before it is whole and verified, and any replica sharing the store can serve it.
/// </summary>
/// <remarks>
/// Sessions are kept in memory: an upload does not survive a restart, and files left by an
/// earlier process are removed at start. With several replicas, the requests of one chunked
/// upload must reach the replica that started it (session affinity on <c>/v2/</c>); a
/// monolithic upload is one request and goes anywhere.
/// </remarks>
public sealed partial class BlobUploads : IDisposable
{
    private const string FilePrefix = "upload-";
    private const int BufferSize = 81920;

    /// <summary>What a client refused for a count or disk limit is told to wait: long enough for an ordinary push to finish a blob.</summary>
    private const string RetryAfterSeconds = "30";

    private readonly ConcurrentDictionary<string, UploadSession> _sessions = new(StringComparer.Ordinal);
    private readonly IArtifactStore _artifacts;
    private readonly RegistryOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly LimitMetrics _limits;
    private readonly ILogger<BlobUploads> _logger;
    private readonly Lock _startGate = new();
    private long _bytesInProgress;

    public BlobUploads(IArtifactStore artifacts, ServerBootstrap bootstrap, IOptions<RegistryOptions> options, TimeProvider timeProvider, LimitMetrics limits, ILogger<BlobUploads> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(bootstrap);
        _artifacts = artifacts;
        _options = options.Value;
        _timeProvider = timeProvider;
        _limits = limits;
        _logger = logger;

        // Beside the disk store's own staging, on the same file system as its blobs.
        Directory = Path.Combine(bootstrap.DataDirectory, "blobs", "uploads");
        System.IO.Directory.CreateDirectory(Directory);
        foreach (var stale in System.IO.Directory.EnumerateFiles(Directory, FilePrefix + "*"))
        {
            File.Delete(stale);
        }
    }

    /// <summary>Where upload files are written.</summary>
    public string Directory { get; }

    public long MaxBlobBytes => _options.MaxBlobBytes;

    /// <summary>Bytes the uploads in progress hold on disk together.</summary>
    public long BytesInProgress => Interlocked.Read(ref _bytesInProgress);

    /// <summary>
    /// Opens an empty upload for a repository on behalf of <paramref name="subject"/> (the registry
    /// token's subject). Over <see cref="RegistryOptions.MaxOpenUploads"/> or
    /// <see cref="RegistryOptions.MaxOpenUploadsPerSubject"/>, once idle uploads are discarded,
    /// throws 429 TOOMANYREQUESTS.
    /// </summary>
    public UploadSession Start(string repository, string subject)
    {
        DiscardIdle();
        UploadSession session;
        lock (_startGate)
        {
            var open = _sessions.Values.ToList();
            if (open.Count >= _options.MaxOpenUploads)
            {
                throw TooMany(subject, open.Count, _options.MaxOpenUploads, nameof(RegistryOptions.MaxOpenUploads), "uploads are open on this registry");
            }

            var own = open.Count(s => string.Equals(s.Subject, subject, StringComparison.Ordinal));
            if (own >= _options.MaxOpenUploadsPerSubject)
            {
                throw TooMany(subject, own, _options.MaxOpenUploadsPerSubject, nameof(RegistryOptions.MaxOpenUploadsPerSubject), $"uploads are open for '{subject}'");
            }

            var id = Guid.NewGuid().ToString("D");
            session = new UploadSession(id, repository, subject, Path.Combine(Directory, FilePrefix + id), _timeProvider.GetUtcNow());
            File.Create(session.FilePath).Dispose();
            _sessions[id] = session;
        }

        LogStarted(session.Id, repository);
        return session;
    }

    /// <summary>The upload with this id in this repository, or null when there is none (never started, finished or cancelled).</summary>
    public UploadSession? Find(string repository, string id) =>
        _sessions.TryGetValue(id, out var session) && string.Equals(session.Repository, repository, StringComparison.Ordinal)
            ? session
            : null;

    /// <summary>
    /// Appends a chunk. <paramref name="rangeStart"/>, from <c>Content-Range</c>, must equal the
    /// bytes received so far (else 416); a chunk that would take the blob past the size limit
    /// discards the whole upload (413). Returns the upload's size afterwards.
    /// </summary>
    public async Task<long> AppendAsync(UploadSession session, Stream chunk, long? declaredLength, long? rangeStart, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        await session.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            EnsureOpen(session);
            await AppendLockedAsync(session, chunk, declaredLength, rangeStart, cancellationToken).ConfigureAwait(false);
            return session.Size;
        }
        finally
        {
            session.Gate.Release();
        }
    }

    /// <summary>
    /// Appends the final chunk (possibly empty), checks the content against <paramref name="digest"/>
    /// and moves it into the artifact store under that digest. On a mismatch the upload is discarded
    /// and 400 DIGEST_INVALID is thrown. Returns the blob's size.
    /// </summary>
    public async Task<long> CompleteAsync(UploadSession session, Stream chunk, long? declaredLength, long? rangeStart, string digest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        await session.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            EnsureOpen(session);
            await AppendLockedAsync(session, chunk, declaredLength, rangeStart, cancellationToken).ConfigureAwait(false);
            var actual = ContentDigest.FromHash(session.Hash.GetHashAndReset());
            if (!string.Equals(actual, digest, StringComparison.Ordinal))
            {
                DiscardLocked(session);
                LogDigestMismatch(session.Id, session.Repository, digest, actual);
                throw new RegistryErrorException(
                    StatusCodes.Status400BadRequest,
                    "DIGEST_INVALID",
                    $"the uploaded content ({session.Size} bytes) has digest {actual}, not {digest}; the upload is discarded");
            }

            Close(session);
            try
            {
                var staged = new FileStream(session.FilePath, FileMode.Open, FileAccess.Read, FileShare.None, BufferSize, useAsync: true);
                await using (staged.ConfigureAwait(false))
                {
                    await _artifacts.PutAsync(digest, staged, cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                File.Delete(session.FilePath);
            }

            LogCompleted(session.Id, session.Repository, digest, session.Size);
            return session.Size;
        }
        finally
        {
            session.Gate.Release();
        }
    }

    /// <summary>Cancels an upload and removes its file; a no-op for one already gone.</summary>
    public async Task CancelAsync(UploadSession session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        await session.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!session.Closed)
            {
                DiscardLocked(session);
                LogCancelled(session.Id, session.Repository);
            }
        }
        finally
        {
            session.Gate.Release();
        }
    }

    public void Dispose()
    {
        foreach (var session in _sessions.Values)
        {
            Close(session);
            File.Delete(session.FilePath);
        }
    }

    private async Task AppendLockedAsync(UploadSession session, Stream chunk, long? declaredLength, long? rangeStart, CancellationToken cancellationToken)
    {
        if (rangeStart is { } start && start != session.Size)
        {
            throw new RegistryErrorException(
                StatusCodes.Status416RangeNotSatisfiable,
                "BLOB_UPLOAD_INVALID",
                $"the chunk starts at byte {start} but the upload holds {session.Size} bytes; resume at {session.Size}")
            {
                Headers = new Dictionary<string, string> { ["Range"] = RangeOf(session.Size), ["Docker-Upload-UUID"] = session.Id },
            };
        }

        if (declaredLength is { } length && session.Size + length > _options.MaxBlobBytes)
        {
            throw TooLarge(session, session.Size + length);
        }

        // Bytes counted against the disk budget and not yet written: a chunk that declared its
        // length reserves it whole, one that did not reserves as it comes.
        var reserved = 0L;
        try
        {
            if (declaredLength is { } declared)
            {
                if (!TryReserve(declared))
                {
                    throw OverDiskBudget(session, declared);
                }

                reserved = declared;
            }

            var stream = new FileStream(session.FilePath, FileMode.Open, FileAccess.Write, FileShare.None, bufferSize: 0, useAsync: true);
            await using (stream.ConfigureAwait(false))
            {
                stream.Position = session.Size;
                var buffer = new byte[BufferSize];
                try
                {
                    int read;
                    while ((read = await chunk.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        if (session.Size + read > _options.MaxBlobBytes)
                        {
                            throw TooLarge(session, session.Size + read);
                        }

                        if (reserved < read)
                        {
                            if (!TryReserve(read - reserved))
                            {
                                throw OverDiskBudget(session, read);
                            }

                            reserved = read;
                        }

                        await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                        session.Hash.AppendData(buffer, 0, read);
                        session.Size += read;
                        reserved -= read;
                    }
                }
                finally
                {
                    // A chunk cut off mid-way (client gone, disk full, a limit) leaves the upload at
                    // the bytes both written and hashed, so the client can ask for the range and resume there.
                    if (!session.Closed && stream.Length != session.Size)
                    {
                        stream.SetLength(session.Size);
                    }

                    session.LastActivity = _timeProvider.GetUtcNow();
                }
            }
        }
        finally
        {
            // What was reserved and not received (a shorter body, a refusal) is handed back; a
            // discarded upload gave back its size when it was closed.
            Interlocked.Add(ref _bytesInProgress, -reserved);
        }
    }

    private RegistryErrorException TooLarge(UploadSession session, long attempted)
    {
        DiscardLocked(session);
        _limits.Refused(LimitMetrics.BlobSize);
        LogBlobTooLarge(session.Id, session.Repository, session.Subject, attempted, _options.MaxBlobBytes);
        return new RegistryErrorException(
            StatusCodes.Status413PayloadTooLarge,
            "SIZE_INVALID",
            $"the blob would be at least {attempted} bytes, over this registry's limit of {_options.MaxBlobBytes} bytes ({RegistryOptions.Section}:{nameof(RegistryOptions.MaxBlobBytes)}); the upload is discarded");
    }

    /// <summary>Counts <paramref name="bytes"/> against the disk budget, or leaves it as it is and returns false when they do not fit.</summary>
    private bool TryReserve(long bytes)
    {
        var current = Interlocked.Read(ref _bytesInProgress);
        while (true)
        {
            if (current + bytes > _options.MaxUploadBytesInProgress)
            {
                // Idle uploads may be holding the budget; discard them (not this one: it is in use) and look again.
                if (DiscardIdle() == 0)
                {
                    return false;
                }

                current = Interlocked.Read(ref _bytesInProgress);
                if (current + bytes > _options.MaxUploadBytesInProgress)
                {
                    return false;
                }
            }

            var seen = Interlocked.CompareExchange(ref _bytesInProgress, current + bytes, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }
    }

    private RegistryErrorException OverDiskBudget(UploadSession session, long attempted)
    {
        _limits.Refused(LimitMetrics.UploadDisk);
        LogOverDiskBudget(session.Id, session.Repository, session.Subject, attempted, BytesInProgress, _options.MaxUploadBytesInProgress);
        return new RegistryErrorException(
            StatusCodes.Status429TooManyRequests,
            "TOOMANYREQUESTS",
            $"uploads in progress hold {BytesInProgress} bytes and {attempted} more would pass this registry's budget of {_options.MaxUploadBytesInProgress} bytes ({RegistryOptions.Section}:{nameof(RegistryOptions.MaxUploadBytesInProgress)}); the upload keeps its {session.Size} bytes: resume it later")
        {
            Headers = new Dictionary<string, string> { ["Retry-After"] = RetryAfterSeconds, ["Range"] = RangeOf(session.Size), ["Docker-Upload-UUID"] = session.Id },
        };
    }

    private RegistryErrorException TooMany(string subject, int open, int limit, string setting, string what)
    {
        _limits.Refused(LimitMetrics.UploadSessions);
        LogTooManyUploads(subject, open, limit, setting);
        return new RegistryErrorException(
            StatusCodes.Status429TooManyRequests,
            "TOOMANYREQUESTS",
            $"{open} {what}, the limit ({RegistryOptions.Section}:{setting}); finish or cancel one, or try again later")
        {
            Headers = new Dictionary<string, string> { ["Retry-After"] = RetryAfterSeconds },
        };
    }

    private static void EnsureOpen(UploadSession session)
    {
        if (session.Closed)
        {
            throw UnknownUpload(session.Id);
        }
    }

    internal static RegistryErrorException UnknownUpload(string id) =>
        new(StatusCodes.Status404NotFound, "BLOB_UPLOAD_UNKNOWN", $"upload '{id}' is not in progress (never started, finished, cancelled or expired)");

    /// <summary>The <c>Range</c> header value for an upload holding <paramref name="size"/> bytes (inclusive end, as registries report it).</summary>
    public static string RangeOf(long size) => $"0-{Math.Max(0, size - 1)}";

    private void DiscardLocked(UploadSession session)
    {
        Close(session);
        File.Delete(session.FilePath);
    }

    private void Close(UploadSession session)
    {
        if (session.Closed)
        {
            return;
        }

        session.Closed = true;
        _sessions.TryRemove(session.Id, out _);
        Interlocked.Add(ref _bytesInProgress, -session.Size);
        session.Hash.Dispose();
    }

    /// <summary>Discards the uploads untouched for <see cref="RegistryOptions.UploadIdleTimeout"/>; returns how many.</summary>
    private int DiscardIdle()
    {
        var discarded = 0;
        var cutoff = _timeProvider.GetUtcNow() - _options.UploadIdleTimeout;
        foreach (var session in _sessions.Values)
        {
            // A session in use right now is not idle; skip it rather than wait.
            if (session.LastActivity < cutoff && session.Gate.Wait(0))
            {
                try
                {
                    if (!session.Closed)
                    {
                        DiscardLocked(session);
                        LogExpired(session.Id, session.Repository);
                        discarded++;
                    }
                }
                finally
                {
                    session.Gate.Release();
                }
            }
        }

        return discarded;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "Upload {UploadId} to {Repository} started")]
    private partial void LogStarted(string uploadId, string repository);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Upload {UploadId} to {Repository} stored as {Digest} ({Size} bytes)")]
    private partial void LogCompleted(string uploadId, string repository, string digest, long size);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Upload {UploadId} to {Repository} discarded: expected {Expected}, received {Actual}")]
    private partial void LogDigestMismatch(string uploadId, string repository, string expected, string actual);

    [LoggerMessage(EventId = 4, Level = LogLevel.Debug, Message = "Upload {UploadId} to {Repository} cancelled")]
    private partial void LogCancelled(string uploadId, string repository);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Upload {UploadId} to {Repository} expired and was discarded")]
    private partial void LogExpired(string uploadId, string repository);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Upload {UploadId} to {Repository} by {Subject} refused at {Attempted} bytes, over the blob limit of {MaxBlobBytes} (Registry:MaxBlobBytes); discarded")]
    private partial void LogBlobTooLarge(string uploadId, string repository, string subject, long attempted, long maxBlobBytes);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "Upload for {Subject} refused: {Open} open, the limit of {Setting} is {Limit}")]
    private partial void LogTooManyUploads(string subject, int open, int limit, string setting);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "Chunk of {Attempted} bytes for upload {UploadId} to {Repository} by {Subject} refused: uploads hold {InProgress} bytes, the budget is {Budget} (Registry:MaxUploadBytesInProgress)")]
    private partial void LogOverDiskBudget(string uploadId, string repository, string subject, long attempted, long inProgress, long budget);
}

/// <summary>One upload in progress: its file, the bytes received so far and their running hash.</summary>
public sealed class UploadSession
{
    internal UploadSession(string id, string repository, string subject, string filePath, DateTimeOffset startedAt)
    {
        Id = id;
        Repository = repository;
        Subject = subject;
        FilePath = filePath;
        LastActivity = startedAt;
    }

    public string Id { get; }

    public string Repository { get; }

    /// <summary>Who opened it: the registry token's subject, which open-upload limits count by.</summary>
    public string Subject { get; }

    public long Size { get; internal set; }

    internal string FilePath { get; }

    internal IncrementalHash Hash { get; } = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    /// <summary>Serializes chunks of one upload. Never disposed: no wait handle is ever taken from it.</summary>
    internal SemaphoreSlim Gate { get; } = new(1, 1);

    internal DateTimeOffset LastActivity { get; set; }

    internal bool Closed { get; set; }
}
