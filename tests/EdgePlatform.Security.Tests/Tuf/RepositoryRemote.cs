using EdgePlatform.Security.Tuf;

namespace EdgePlatform.Security.Tests.Tuf;

/// <summary>
/// Serves a <see cref="TufRepository"/> to a device, byte for byte, unless the test replaces
/// what is served, as a mirror or a man in the middle could.
/// </summary>
internal sealed class RepositoryRemote(TufRepository repository) : ITufRemote
{
    public Dictionary<long, byte[]> RootsServedInstead { get; } = [];

    public byte[]? TimestampServedInstead { get; set; }

    public byte[]? TargetsServedInstead { get; set; }

    public Task<byte[]?> GetRootAsync(long version, CancellationToken cancellationToken) =>
        Task.FromResult(RootsServedInstead.TryGetValue(version, out var bytes) ? bytes : repository.RootBytes(version));

    public Task<byte[]> GetTimestampAsync(CancellationToken cancellationToken) =>
        Task.FromResult(TimestampServedInstead ?? repository.TimestampBytes ?? throw new InvalidOperationException("the repository has no timestamp yet"));

    public Task<byte[]> GetTargetsAsync(CancellationToken cancellationToken) =>
        Task.FromResult(TargetsServedInstead ?? repository.TargetsBytes ?? throw new InvalidOperationException("the repository has no targets yet"));
}
