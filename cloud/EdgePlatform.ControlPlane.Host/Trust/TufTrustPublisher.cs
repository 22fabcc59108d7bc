using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.ControlPlane.Leases;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Trust;

/// <summary>
/// The server's trust metadata (<c>trust/</c> in the data directory) and its online keys
/// (<c>keys/targets.pem</c>, <c>keys/timestamp.pem</c>, mode 0600, in the key directory). On first start it creates
/// a root with one key per role; that root key is then kept in <c>keys/root.pem</c> and should
/// be moved offline (<c>edgectl root rotate</c> signs later roots on files).
/// </summary>
public sealed partial class TufTrustPublisher : ITrustPublisher, IDisposable
{
    private readonly TufRepository _repository;
    private readonly TufSigningKey[] _targetsKeys;
    private readonly TufSigningKey[] _timestampKeys;
    private readonly TrustOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<TufTrustPublisher> _logger;

    public TufTrustPublisher(ServerBootstrap bootstrap, IOptions<TrustOptions> options, TimeProvider timeProvider, ILogger<TufTrustPublisher> logger)
    {
        _options = options.Value;
        _timeProvider = timeProvider;
        _logger = logger;
        var keyDirectory = Path.Combine(bootstrap.KeyDirectory, ServerBootstrap.TrustKeysDirectoryName);
        var trustDirectory = Path.Combine(bootstrap.DataDirectory, "trust");
        if (bootstrap.CreatesKeys)
        {
            Directory.CreateDirectory(keyDirectory);
            File.SetUnixFileMode(keyDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        if (!TufRepository.Exists(trustDirectory))
        {
            if (!bootstrap.CreatesKeys)
            {
                // A new root would name new keys that the shared ones cannot sign for, and every
                // device that trusts the existing root would refuse this server's metadata.
                throw new InvalidOperationException(
                    $"No trust metadata in '{trustDirectory}', and this server may not create keys for a new root (Server:CreateKeys is false): "
                    + "copy the trust directory from the server that created the keys in the key directory");
            }

            Initialize(keyDirectory, trustDirectory);
        }

        _repository = TufRepository.Open(trustDirectory);
        _targetsKeys = [LoadKey(keyDirectory, TufRoles.Targets)];
        _timestampKeys = [LoadKey(keyDirectory, TufRoles.Timestamp)];
        var rootKey = Path.Combine(bootstrap.KeyDirectory, ServerBootstrap.TrustKeyFileName(TufRoles.Root));
        if (File.Exists(rootKey))
        {
            LogRootKeyOnline(rootKey);
        }

        RefreshIfDue();
    }

    public TufRepository Repository => _repository;

    public string TrustedRoot => System.Text.Encoding.UTF8.GetString(_repository.RootBytes(_repository.RootVersion)!);

    public byte[] SignManifest(ReadOnlySpan<byte> manifest) =>
        TufSigningKey.SignDetached(manifest, _targetsKeys, _timeProvider.GetUtcNow());

    public Task ApproveAsync(string name, string version, string repository, string manifestDigest, long manifestLength, CancellationToken cancellationToken)
    {
        if (!OnlineTargetsKeysSuffice())
        {
            // Targets signing has moved offline: the release waits for 'edgectl model sign'.
            LogAwaitingApproval(name, version);
            return Task.CompletedTask;
        }

        var now = _timeProvider.GetUtcNow();
        var targets = _repository.PublishTargets(
            current => new Dictionary<string, TargetEntry>(current?.Targets ?? new Dictionary<string, TargetEntry>(), StringComparer.Ordinal)
            {
                [$"{name}:{version}"] = new TargetEntry(repository, manifestDigest, manifestLength, _options.DefaultChannels),
            },
            _targetsKeys,
            _options.TargetsLifetime,
            now);
        _repository.RefreshTimestamp(_timestampKeys, _options.TimestampLifetime, now);
        LogApproved(name, version, _options.DefaultChannels, targets.Version);
        return Task.CompletedTask;
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
    public void RefreshIfDue()
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
    }

    private void Initialize(string keyDirectory, string trustDirectory)
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
        TufRepository.Create(trustDirectory, TufEnvelopes.Serialize(envelope));
        LogInitialized(trustDirectory);
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

    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "Created trust metadata (root version 1, one key per role) in {Directory}")]
    private partial void LogInitialized(string directory);

    [LoggerMessage(EventId = 701, Level = LogLevel.Warning, Message = "The root signing key is on this server ({Path}); for production, keep it offline and sign root rotations with 'edgectl root'")]
    private partial void LogRootKeyOnline(string path);

    [LoggerMessage(EventId = 704, Level = LogLevel.Error, Message = "Could not re-sign trust metadata with the online keys: {Reason}")]
    private partial void LogRefreshRefused(string reason);

    [LoggerMessage(EventId = 703, Level = LogLevel.Warning, Message = "Release {Name}:{Version} is published but not approved: the online targets key no longer meets the root's threshold; approve it with 'edgectl model sign'")]
    private partial void LogAwaitingApproval(string name, string version);

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
                publisher.RefreshIfDue();
            }
        }
    }

    [LoggerMessage(EventId = 705, Level = LogLevel.Warning, Message = "Could not check the trust metadata lease; re-signing waits for the next minute")]
    private partial void LogLeaseUnavailable(Exception exception);
}
