using System.Security.Cryptography;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Datasets;

/// <summary>
/// Resumable upload sessions: each is a file under <c>datasets/uploads</c> that chunks are
/// appended to; its length is the offset the next chunk starts at, so a client that lost its
/// connection asks for the offset and goes on from there, across server restarts too.
/// </summary>
public sealed class DatasetUploads
{
    private readonly string _directory;
    private readonly DatasetOptions _options;

    public DatasetUploads(string directory, IOptions<DatasetOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _directory = directory;
        _options = options.Value;
        Directory.CreateDirectory(directory);
    }

    public long MaxChunkBytes => _options.MaxChunkBytes;

    public DatasetUploadInfo Start()
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        File.Create(PathOf(id)).Dispose();
        return new DatasetUploadInfo(id, 0);
    }

    public DatasetUploadInfo Get(string id) => new(id, new FileInfo(Existing(id)).Length);

    /// <summary>Appends a chunk that starts at <paramref name="start"/>, which must be the session's offset.</summary>
    public async Task<DatasetUploadInfo> AppendAsync(string id, long start, Stream chunk, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        var path = Existing(id);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.None, 81920, useAsync: true);
        await using (stream.ConfigureAwait(false))
        {
            if (start != stream.Length)
            {
                throw new ConflictException($"upload {id} holds {stream.Length} bytes; send the chunk that starts there (Content-Range: bytes {stream.Length}-…)");
            }

            stream.Seek(0, SeekOrigin.End);
            var buffer = new byte[81920];
            int read;
            try
            {
                while ((read = await chunk.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    if (stream.Length + read > _options.MaxUploadBytes)
                    {
                        throw new RequestValidationException("body", $"the upload would exceed Datasets:MaxUploadBytes ({_options.MaxUploadBytes} bytes)");
                    }

                    await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                }
            }
            catch
            {
                // A broken chunk is not kept in part: the offset stays where the chunk began.
                stream.SetLength(start);
                throw;
            }

            return new DatasetUploadInfo(id, stream.Length);
        }
    }

    /// <summary>The session's file, for registration to read; null when there is no such session.</summary>
    public string? Find(string id) => IsId(id) && File.Exists(PathOf(id)) ? PathOf(id) : null;

    public void Delete(string id)
    {
        if (IsId(id))
        {
            File.Delete(PathOf(id));
        }
    }

    private string Existing(string id) => Find(id) ?? throw new NotFoundException($"upload session '{id}' does not exist (finished, cancelled or never started)");

    private string PathOf(string id) => Path.Combine(_directory, id);

    private static bool IsId(string id) => id.Length == 32 && id.All(char.IsAsciiHexDigitLower);
}
