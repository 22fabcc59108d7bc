using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.ControlPlane.Leases;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Trust;

/// <summary>
/// The server's trust metadata, kept in the shared store (<see cref="ITufMetadataStore"/>) so
/// every replica serves the same signed documents, and its online keys (<c>keys/targets.pem</c>,
/// <c>keys/timestamp.pem</c>, mode 0600, in the key directory). On first start it creates a root
/// with one key per role; that root key is then kept in <c>keys/root.pem</c> and should be moved
/// offline (<c>edgectl root rotate</c> signs later roots on files). Every change of the metadata
/// (an approval, a re-signing, an uploaded root or targets) runs under a short lease, so replicas
/// never sign two documents of the same version.
/// </summary>
public sealed partial class TufTrustPublisher : ITrustPublisher, IDisposable
{
    /// <summary>The lease a change of the metadata holds: only for the change, so any replica can approve a release.</summary>
    private const string WriteLease = "trust-metadata-write";

    private static readonly TimeSpan WriteLeaseDuration = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan WriteLeasePatience = TimeSpan.FromSeconds(60);

    // The lease is held per replica: changes within this process take turns here first, or one
    // finishing would release the lease while another of ours still writes.
    private readonly SemaphoreSlim _writing = new(1, 1);
    private readonly TufRepository _repository;
    private readonly TufSigningKey[] _targetsKeys;
    private readonly TufSigningKey[] _timestampKeys;
    private readonly ILeaseStore _leases;
    private readonly string _replicaId;
    private readonly TrustOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<TufTrustPublisher> _logger;

    public TufTrustPublisher(
        ServerBootstrap bootstrap,
        IOptions<TrustOptions> options,
        ITufMetadataStore metadata,
        ILeaseStore leases,
        IOptions<ReplicaOptions> replica,
        TimeProvider timeProvider,
        ILogger<TufTrustPublisher> logger)
    {
        ArgumentNullException.ThrowIfNull(bootstrap);
        ArgumentNullException.ThrowIfNull(metadata);
        _options = options.Value;
        _leases = leases;
        _replicaId = replica.Value.Id;
        _timeProvider = timeProvider;
        _logger = logger;
        var keyDirectory = Path.Combine(bootstrap.KeyDirectory, ServerBootstrap.TrustKeysDirectoryName);
        if (bootstrap.CreatesKeys)
        {
            Directory.CreateDirectory(keyDirectory);
            File.SetUnixFileMode(keyDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        // Startup runs before the host serves anything: waiting here for the write lease is waiting for another replica's start.
        UnderWriteLeaseAsync(() => Prepare(bootstrap, metadata, keyDirectory), CancellationToken.None).GetAwaiter().GetResult();
        _repository = TufRepository.Open(metadata);
        _targetsKeys = [LoadKey(keyDirectory, TufRoles.Targets)];
        _timestampKeys = [LoadKey(keyDirectory, TufRoles.Timestamp)];
        var rootKey = Path.Combine(bootstrap.KeyDirectory, ServerBootstrap.TrustKeyFileName(TufRoles.Root));
        if (File.Exists(rootKey))
        {
            LogRootKeyOnline(rootKey);
        }

        RefreshIfDueAsync(CancellationToken.None).GetAwaiter().GetResult();
    }

    public TufRepository Repository => _repository;

    public string TrustedRoot => System.Text.Encoding.UTF8.GetString(_repository.RootBytes(_repository.RootVersion)!);

    public byte[] SignManifest(ReadOnlySpan<byte> manifest) =>
        TufSigningKey.SignDetached(manifest, _targetsKeys, _timeProvider.GetUtcNow());

    public async Task ApproveAsync(string name, string version, string repository, string manifestDigest, long manifestLength, CancellationToken cancellationToken)
    {
        if (!OnlineTargetsKeysSuffice())
        {
            // Targets signing has moved offline: the release waits for 'edgectl model sign'.
            LogAwaitingApproval(name, version);
            return;
        }

        var targets = await ChangeAsync(
            _ =>
            {
                var now = _timeProvider.GetUtcNow();
                var published = _repository.PublishTargets(
                    current => new Dictionary<string, TargetEntry>(current?.Targets ?? new Dictionary<string, TargetEntry>(), StringComparer.Ordinal)
                    {
                        [$"{name}:{version}"] = new TargetEntry(repository, manifestDigest, manifestLength, _options.DefaultChannels),
                    },
                    _targetsKeys,
                    _options.TargetsLifetime,
                    now);
                _repository.RefreshTimestamp(_timestampKeys, _options.TimestampLifetime, now);
                return published;
            },
            cancellationToken).ConfigureAwait(false);
        LogApproved(name, version, _options.DefaultChannels, targets.Version);
    }

    public async Task RecordImageAsync(string name, string version, ContainerImageTarget image, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        var key = $"{name}:{version}";
        if (_repository.Targets?.Targets.TryGetValue(key, out var signed) == true && signed.Image is { } current
            && current.IndexDigest == image.IndexDigest && string.Equals(current.Repository, image.Repository, StringComparison.Ordinal))
        {
            // Containerizing again built the same image: the signed entry already names it.
            return;
        }

        if (!OnlineTargetsKeysSuffice())
        {
            throw new ConflictException(
                $"targets are signed offline: the image of {key} is pushed ({image.Repository}@{image.IndexDigest}) but devices run it only once "
                + $"'edgectl model sign {key}' signs targets that name it");
        }

        var targets = await ChangeAsync(
            _ =>
            {
                var now = _timeProvider.GetUtcNow();
                var published = _repository.PublishTargets(
                    current =>
                    {
                        var entries = new Dictionary<string, TargetEntry>(current?.Targets ?? new Dictionary<string, TargetEntry>(), StringComparer.Ordinal);
                        entries[key] = entries.TryGetValue(key, out var entry)
                            ? entry with { Image = image }
                            : throw new NotFoundException($"{key} is not in the targets metadata: it was never approved");
                        return entries;
                    },
                    _targetsKeys,
                    _options.TargetsLifetime,
                    now);
                _repository.RefreshTimestamp(_timestampKeys, _options.TimestampLifetime, now);
                return published;
            },
            cancellationToken).ConfigureAwait(false);
        LogImageRecorded(name, version, image.IndexDigest, targets.Version);
    }

    /// <summary>
    /// Runs a change of the metadata (an uploaded root or targets document, say) under the write
    /// lease, reading the current documents inside it, and re-signs the timestamp when due after it.
    /// </summary>
    public Task<T> ChangeAsync<T>(Func<TufRepository, T> change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        return UnderWriteLeaseAsync(
            () =>
            {
                var result = change(_repository);
                RefreshIfDueUnlocked();
                return result;
            },
            cancellationToken);
    }

    /// <summary>True when a signature by the online targets key(s) meets the current root's targets threshold.</summary>
    public bool VerifiesAsTargets(ReadOnlySpan<byte> manifest, ReadOnlySpan<byte> signature)
    {
        var root = _repository.Root;
        return TufEnvelopes.ValidCmsSigners(manifest, signature, root, TufRoles.Targets).Count >= root.Roles[TufRoles.Targets].Threshold;
    }

    private bool OnlineTargetsKeysSuffice()
    {
        var role = _repository.Root.Roles[TufRoles.Targets];
        return _targetsKeys.Count(k => role.KeyIds.Contains(k.KeyId, StringComparer.Ordinal)) >= role.Threshold;
    }

    /// <summary>Re-signs targets and timestamp once less than half their lifetime is left, so devices never see them expire.</summary>
    public Task RefreshIfDueAsync(CancellationToken cancellationToken) =>
        UnderWriteLeaseAsync(() => { RefreshIfDueUnlocked(); return true; }, cancellationToken);

    private void RefreshIfDueUnlocked()
    {
        var now = _timeProvider.GetUtcNow();
        var targets = _repository.Targets;
        try
        {
            if ((targets is null || targets.Expires - now < _options.TargetsLifetime / 2) && OnlineTargetsKeysSuffice())
            {
                _repository.PublishTargets(current => current?.Targets ?? new Dictionary<string, TargetEntry>(), _targetsKeys, _options.TargetsLifetime, now);
                _repository.RefreshTimestamp(_timestampKeys, _options.TimestampLifetime, now);
            }
            else if (targets is not null
                && (_repository.Timestamp is not { } timestamp || timestamp.Expires - now < _options.TimestampLifetime / 2 || timestamp.Targets.Version != targets.Version))
            {
                _repository.RefreshTimestamp(_timestampKeys, _options.TimestampLifetime, now);
            }
        }
        catch (TufVerificationException ex)
        {
            // A rotated root may have taken an online key out of its role; the server keeps
            // serving what it has and says so until the operator signs offline.
            LogRefreshRefused(ex.Message);
        }
    }

    public void Dispose()
    {
        foreach (var key in _targetsKeys.Concat(_timestampKeys))
        {
            key.Dispose();
        }

        _writing.Dispose();
    }

    /// <summary>
    /// Makes sure the store holds trust metadata: as it is; imported once from a data directory
    /// that kept it in files (<c>trust/</c>, before the metadata moved to the store); or created
    /// with new keys on the very first start.
    /// </summary>
    private bool Prepare(ServerBootstrap bootstrap, ITufMetadataStore metadata, string keyDirectory)
    {
        if (TufRepository.Exists(metadata))
        {
            return false;
        }

        var files = Path.Combine(bootstrap.DataDirectory, "trust");
        if (TufRepository.Exists(files))
        {
            var old = TufRepository.Open(files);
            for (var version = 1L; old.RootBytes(version) is { } root; version++)
            {
                metadata.Write($"root/{version.ToString(System.Globalization.CultureInfo.InvariantCulture)}.json", root);
            }

            if (old.TargetsBytes is { } targets)
            {
                metadata.Write("targets.json", targets);
            }

            if (old.TimestampBytes is { } timestamp)
            {
                metadata.Write("timestamp.json", timestamp);
            }

            LogImported(files);
            return true;
        }

        if (!bootstrap.CreatesKeys)
        {
            // A new root would name new keys that the shared ones cannot sign for, and every
            // device that trusts the existing root would refuse this server's metadata.
            throw new InvalidOperationException(
                "No trust metadata in the store, and this server may not create keys for a new root (Server:CreateKeys is false): "
                + "start the server that creates the key material first, against the same store");
        }

        Initialize(keyDirectory, metadata);
        return true;
    }

    /// <summary>
    /// Runs <paramref name="write"/> holding the write lease, waiting for it while another replica
    /// changes the metadata; the lease is given up at once afterwards.
    /// </summary>
    private async Task<T> UnderWriteLeaseAsync<T>(Func<T> write, CancellationToken cancellationToken)
    {
        await _writing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await UnderWriteLeaseHeldHereAsync(write, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writing.Release();
        }
    }

    private async Task<T> UnderWriteLeaseHeldHereAsync<T>(Func<T> write, CancellationToken cancellationToken)
    {
        var deadline = _timeProvider.GetUtcNow() + WriteLeasePatience;
        Lease? lease;
        while ((lease = await _leases.TryAcquireAsync(WriteLease, _replicaId, WriteLeaseDuration, cancellationToken).ConfigureAwait(false)) is null)
        {
            if (_timeProvider.GetUtcNow() > deadline)
            {
                throw new TimeoutException($"another replica held the trust metadata for more than {WriteLeasePatience.TotalSeconds:0} s");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), _timeProvider, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            return write();
        }
        finally
        {
            await _leases.ReleaseAsync(lease, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private void Initialize(string keyDirectory, ITufMetadataStore metadata)
    {
        var now = _timeProvider.GetUtcNow();
        using var root = TufSigningKey.Create("EdgePlatform root", now);
        using var targets = TufSigningKey.Create("EdgePlatform targets", now);
        using var timestamp = TufSigningKey.Create("EdgePlatform timestamp", now);
        var document = TufRepository.NewRoot(
            1,
            now.Add(_options.RootLifetime),
            new Dictionary<string, (IReadOnlyList<TufSigningKey>, int)>
            {
                [TufRoles.Root] = ([root], 1),
                [TufRoles.Targets] = ([targets], 1),
                [TufRoles.Timestamp] = ([timestamp], 1),
            });
        var envelope = TufEnvelopes.Create(document, TufJsonContext.Default.RootMetadata, [root], now);

        // Keys first: a root that names keys nobody holds would lock every device out.
        WriteKey(keyDirectory, TufRoles.Root, root);
        WriteKey(keyDirectory, TufRoles.Targets, targets);
        WriteKey(keyDirectory, TufRoles.Timestamp, timestamp);
        TufRepository.Create(metadata, TufEnvelopes.Serialize(envelope));
        LogInitialized();
    }

    private static TufSigningKey LoadKey(string keyDirectory, string role) =>
        TufSigningKey.FromPem(File.ReadAllText(Path.Combine(keyDirectory, role + ".pem")));

    private static void WriteKey(string keyDirectory, string role, TufSigningKey key)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        var path = Path.Combine(keyDirectory, role + ".pem");
        using (var writer = new StreamWriter(new FileStream(path, options)))
        {
            writer.Write(key.ExportPem());
        }

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "Created trust metadata (root version 1, one key per role)")]
    private partial void LogInitialized();

    [LoggerMessage(EventId = 706, Level = LogLevel.Information, Message = "Imported the trust metadata kept in {Directory} into the store; the files are no longer read")]
    private partial void LogImported(string directory);

    [LoggerMessage(EventId = 701, Level = LogLevel.Warning, Message = "The root signing key is on this server ({Path}); for production, keep it offline and sign root rotations with 'edgectl root'")]
    private partial void LogRootKeyOnline(string path);

    [LoggerMessage(EventId = 704, Level = LogLevel.Error, Message = "Could not re-sign trust metadata with the online keys: {Reason}")]
    private partial void LogRefreshRefused(string reason);

    [LoggerMessage(EventId = 703, Level = LogLevel.Warning, Message = "Release {Name}:{Version} is published but not approved: the online targets key no longer meets the root's threshold; approve it with 'edgectl model sign'")]
    private partial void LogAwaitingApproval(string name, string version);

    [LoggerMessage(EventId = 707, Level = LogLevel.Information, Message = "Recorded the container image {IndexDigest} of {Name}:{Version} in the targets metadata (targets version {TargetsVersion})")]
    private partial void LogImageRecorded(string name, string version, string indexDigest, long targetsVersion);

    [LoggerMessage(EventId = 702, Level = LogLevel.Information, Message = "Approved {Name}:{Version} for channels {Channels} (targets version {TargetsVersion})")]
    private partial void LogApproved(string name, string version, IReadOnlyList<string> channels, long targetsVersion);
}

/// <summary>Keeps signed metadata fresh while the server runs, re-signing on the replica holding the trust lease.</summary>
public sealed partial class TrustRefresher(TufTrustPublisher publisher, ReplicaLeases leases, TimeProvider timeProvider, ILogger<TrustRefresher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1), timeProvider);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            LeaseFence? fence;
            try
            {
                fence = await leases.HoldAsync(LeaseNames.TrustMetadata, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The store briefly away: metadata lives for a day, a minute's delay is harmless.
                LogLeaseUnavailable(ex);
                continue;
            }

            if (fence is not null)
            {
                await publisher.RefreshIfDueAsync(stoppingToken).ConfigureAwait(false);
            }
        }
    }

    [LoggerMessage(EventId = 705, Level = LogLevel.Warning, Message = "Could not check the trust metadata lease; re-signing waits for the next minute")]
    private partial void LogLeaseUnavailable(Exception exception);
}
