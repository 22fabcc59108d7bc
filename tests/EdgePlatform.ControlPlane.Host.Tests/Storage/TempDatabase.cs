using Microsoft.Data.Sqlite;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

/// <summary>A database path in a fresh temp directory, removed with its pooled connections.</summary>
internal sealed class TempDatabase : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("edgeplatform-sqlite-tests-");

    public string Path => System.IO.Path.Combine(_directory.FullName, "edgeplatform.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _directory.Delete(recursive: true);
    }

    public long Scalar(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={Path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
