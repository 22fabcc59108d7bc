using System.Data.Common;
using System.Globalization;
using Azure;
using Azure.Storage.Blobs;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Npgsql;

namespace EdgePlatform.ControlPlane.Host.Datasets;

/// <summary>
/// Copies a source's data into a staging file: a file under an allowed root, a SQL query's result
/// (written as CSV), or an Azure blob. Errors say what failed without the connection string.
/// </summary>
public sealed class DatasetSources(IOptions<DatasetOptions> options, ConnectionSecrets secrets)
{
    private readonly DatasetOptions _options = options.Value;

    /// <summary>The full path of <paramref name="path"/> when it lies under an allowed root; otherwise a refusal that says why.</summary>
    public string CheckAllowed(string field, string path)
    {
        if (_options.AllowedPaths.Count == 0)
        {
            throw new RequestValidationException(field, "the server reads no paths: an administrator lists the directories it may read in Datasets:AllowedPaths");
        }

        if (!Path.IsPathFullyQualified(path))
        {
            throw new RequestValidationException(field, $"'{path}' is not an absolute path");
        }

        var full = Path.GetFullPath(path);
        // A link is judged by where it leads, so a link inside a root cannot reach outside it.
        if (File.Exists(full) && new FileInfo(full).LinkTarget is not null && File.ResolveLinkTarget(full, returnFinalTarget: true) is { } target)
        {
            full = target.FullName;
        }

        foreach (var root in _options.AllowedPaths)
        {
            var rootFull = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root)) + Path.DirectorySeparatorChar;
            if (full.StartsWith(rootFull, StringComparison.Ordinal))
            {
                return full;
            }
        }

        throw new RequestValidationException(field, $"'{path}' is outside the directories the server may read (Datasets:AllowedPaths: {string.Join(", ", _options.AllowedPaths)})");
    }

    public async Task CopyPathAsync(string path, string staged, CancellationToken cancellationToken)
    {
        var full = CheckAllowed("source.path", path);
        if (!File.Exists(full))
        {
            throw new RequestValidationException("source.path", $"'{path}' does not exist or is not a file");
        }

        var input = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true);
        await using (input.ConfigureAwait(false))
        {
            var output = new FileStream(staged, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true);
            await using (output.ConfigureAwait(false))
            {
                await input.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Runs the query and writes its rows to <paramref name="staged"/> as CSV with a header of the result's column names.</summary>
    public async Task QueryAsync(DatasetConnectionRecord connection, string query, string staged, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var connectionString = secrets.Open(connection.SealedConnectionString);
        DbConnection db = connection.Kind switch
        {
            DatasetConnectionKinds.PostgreSql => new NpgsqlConnection(connectionString),
            DatasetConnectionKinds.Sqlite => new SqliteConnection(ReadOnlySqlite(connectionString)),
            _ => throw new RequestValidationException("source.connection", $"connection '{connection.Name}' is {connection.Kind}; a sql source needs a postgresql or sqlite connection"),
        };
        try
        {
            await using (db.ConfigureAwait(false))
            {
                await db.OpenAsync(cancellationToken).ConfigureAwait(false);
                var command = db.CreateCommand();
                await using (command.ConfigureAwait(false))
                {
                    command.CommandText = query;
                    command.CommandTimeout = _options.QueryTimeoutSeconds;
                    var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        await WriteCsvAsync(reader, staged, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (DbException ex)
        {
            throw new RequestValidationException("source.query", $"the query on connection '{connection.Name}' failed: {Scrub(ex.Message, connectionString)}");
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new RequestValidationException("source.connection", $"connection '{connection.Name}' failed: {Scrub(ex.Message, connectionString)}");
        }
    }

    public async Task DownloadBlobAsync(DatasetConnectionRecord connection, string container, string blob, string staged, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (connection.Kind != DatasetConnectionKinds.AzureBlob)
        {
            throw new RequestValidationException("source.connection", $"connection '{connection.Name}' is {connection.Kind}; a blob source needs an azure-blob connection");
        }

        var connectionString = secrets.Open(connection.SealedConnectionString);
        var clientOptions = new BlobClientOptions();
        clientOptions.Retry.MaxRetries = 2;
        clientOptions.Retry.NetworkTimeout = TimeSpan.FromSeconds(30);
        try
        {
            var client = new BlobServiceClient(connectionString, clientOptions).GetBlobContainerClient(container).GetBlobClient(blob);
            await client.DownloadToAsync(staged, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex)
        {
            var why = ex.Status == 0 ? Scrub(ex.Message, connectionString) : $"{ex.ErrorCode ?? "error"} (HTTP {ex.Status})";
            throw new RequestValidationException("source.blob", $"blob '{container}/{blob}' through connection '{connection.Name}' could not be read: {why}");
        }
        catch (Exception ex) when (ex is AggregateException or HttpRequestException or FormatException or ArgumentException)
        {
            throw new RequestValidationException("source.blob", $"blob '{container}/{blob}' through connection '{connection.Name}' could not be read: {Scrub(ex.Message, connectionString)}");
        }
    }

    /// <summary>Where a connection string points, without its credentials: host, database file or storage account.</summary>
    public string DescribeHost(string kind, string connectionString)
    {
        try
        {
            var builder = new DbConnectionStringBuilder { ConnectionString = connectionString };
            string? Value(params string[] keys) => keys.Select(k => builder.TryGetValue(k, out var v) ? Convert.ToString(v, CultureInfo.InvariantCulture) : null).FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));
            return kind switch
            {
                DatasetConnectionKinds.PostgreSql => $"{Value("Host", "Server") ?? "localhost"}:{Value("Port") ?? "5432"}/{Value("Database") ?? ""}",
                DatasetConnectionKinds.Sqlite => Path.GetFileName(CheckAllowed("connectionString", Value("Data Source", "DataSource", "Filename") ?? throw new RequestValidationException("connectionString", "a sqlite connection names its database file: Data Source=/path/to/file.db"))),
                _ => Value("BlobEndpoint") ?? (Value("UseDevelopmentStorage") is { } dev && dev.Equals("true", StringComparison.OrdinalIgnoreCase) ? "devstoreaccount1 (development storage)" : null) ?? Value("AccountName")
                    ?? throw new RequestValidationException("connectionString", "an azure-blob connection string names an AccountName or a BlobEndpoint"),
            };
        }
        catch (ArgumentException)
        {
            throw new RequestValidationException("connectionString", "is not a connection string of key=value pairs separated by ';'");
        }
    }

    private string ReadOnlySqlite(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        builder.DataSource = CheckAllowed("connection", builder.DataSource);
        builder.Mode = SqliteOpenMode.ReadOnly;
        return builder.ToString();
    }

    private static async Task WriteCsvAsync(DbDataReader reader, string staged, CancellationToken cancellationToken)
    {
        var output = new FileStream(staged, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true);
        await using (output.ConfigureAwait(false))
        {
            var columns = Enumerable.Range(0, reader.FieldCount).Select(i => new EdgePlatform.Training.Data.DataColumn(reader.GetName(i), EdgePlatform.Training.Data.ColumnKind.Text)).ToList();
            using var writer = new EdgePlatform.Training.Data.CsvRowWriter(output, new EdgePlatform.Training.Data.DataSchema(columns));
            var numbers = new double[columns.Count];
            var strings = new string?[columns.Count];
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                for (var i = 0; i < columns.Count; i++)
                {
                    strings[i] = await reader.IsDBNullAsync(i, cancellationToken).ConfigureAwait(false) ? null : Format(reader.GetValue(i));
                }

                writer.WriteRow(numbers, strings);
            }

            writer.Flush();
        }
    }

    private static string Format(object value) => value switch
    {
        double d => EdgePlatform.Training.Data.TabularWriter.FormatNumber(d),
        float f => EdgePlatform.Training.Data.TabularWriter.FormatNumber(f),
        bool b => b ? "true" : "false",
        DateTime t => t.ToString("O", CultureInfo.InvariantCulture),
        DateTimeOffset t => t.ToString("O", CultureInfo.InvariantCulture),
        byte[] bytes => Convert.ToBase64String(bytes),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    /// <summary>Takes the connection string, and any password in it, out of a driver's message.</summary>
    private static string Scrub(string message, string connectionString)
    {
        message = message.Replace(connectionString, "(connection string)", StringComparison.Ordinal);
        try
        {
            var builder = new DbConnectionStringBuilder { ConnectionString = connectionString };
            foreach (var key in new[] { "Password", "Pwd", "AccountKey", "SharedAccessSignature" })
            {
                if (builder.TryGetValue(key, out var secret) && Convert.ToString(secret, CultureInfo.InvariantCulture) is { Length: > 0 } text)
                {
                    message = message.Replace(text, "***", StringComparison.Ordinal);
                }
            }
        }
        catch (ArgumentException)
        {
            // Not parseable: the whole string has been taken out already.
        }

        return message;
    }
}
