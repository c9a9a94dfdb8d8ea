using Npgsql;

namespace AgentSpace.Tests.Infrastructure;

/// <summary>
/// A fresh PostgreSQL database for one test class, on the cluster scripts/postgres.sh runs, set up as
/// production is (db-init.sql as superuser, then the app's own migrator as app_login). Dropped afterwards,
/// with every tenant role it created.
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private TestDatabase(string name, string appConnection, string adminConnection)
    {
        Name = name;
        AppConnectionString = appConnection;
        AdminConnectionString = adminConnection;
    }

    public string Name { get; }

    /// <summary>Connects as the app's login role (never a superuser).</summary>
    public string AppConnectionString { get; }

    /// <summary>Superuser connection to this database: for tampering and catalog checks only.</summary>
    public string AdminConnectionString { get; }

    public static async Task<TestDatabase> CreateAsync()
    {
        var (app, admin) = Connections();
        var name = "test_" + Guid.NewGuid().ToString("N")[..16];
        await using (var conn = new NpgsqlConnection(admin))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE DATABASE {name} OWNER app_owner", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        var adminDb = new NpgsqlConnectionStringBuilder(admin) { Database = name, Pooling = false }.ConnectionString;
        await using (var conn = new NpgsqlConnection(adminDb))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand(await File.ReadAllTextAsync(Path.Combine(RepoRoot(), "scripts", "db-init.sql")), conn);
            await cmd.ExecuteNonQueryAsync();
        }
        var appDb = new NpgsqlConnectionStringBuilder(app) { Database = name }.ConnectionString;
        return new TestDatabase(name, appDb, adminDb);
    }

    public async Task<int> ExecuteAsAdminAsync(string sql)
    {
        await using var conn = new NpgsqlConnection(AdminConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return await cmd.ExecuteNonQueryAsync();
    }

    public async Task<T?> ScalarAsAdminAsync<T>(string sql)
    {
        await using var conn = new NpgsqlConnection(AdminConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        var value = await cmd.ExecuteScalarAsync();
        return value is DBNull or null ? default : (T)value;
    }

    public async ValueTask DisposeAsync()
    {
        var roles = new List<string>();
        await using (var conn = new NpgsqlConnection(AdminConnectionString))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("select nspname from pg_namespace where nspname ~ '^t_[a-z0-9]{8,32}$'", conn);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                roles.Add(reader.GetString(0));
            }
        }
        NpgsqlConnection.ClearAllPools();
        var (_, admin) = Connections();
        await using (var conn = new NpgsqlConnection(admin))
        {
            await conn.OpenAsync();
            // Dropping waits for the database's other sessions to end; on a loaded machine that takes longer than the default 30 s.
            await using (var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)", conn) { CommandTimeout = 300 })
            {
                await drop.ExecuteNonQueryAsync();
            }
            foreach (var role in roles)
            {
                await using var dropRole = new NpgsqlCommand($"DROP ROLE IF EXISTS \"{role}\"", conn);
                await dropRole.ExecuteNonQueryAsync();
            }
        }
    }

    /// <summary>APP_CONNECTION / ADMIN_CONNECTION from test.sh, else the .data/pg.env that scripts/postgres.sh writes.</summary>
    public static (string App, string Admin) Connections()
    {
        var app = Environment.GetEnvironmentVariable("APP_CONNECTION");
        var admin = Environment.GetEnvironmentVariable("ADMIN_CONNECTION");
        if (string.IsNullOrEmpty(app) || string.IsNullOrEmpty(admin))
        {
            var env = Path.Combine(RepoRoot(), ".data", "pg.env");
            if (!File.Exists(env))
            {
                throw new InvalidOperationException("No database: run scripts/postgres.sh (or ./test.sh) first.");
            }
            foreach (var line in File.ReadAllLines(env))
            {
                var eq = line.IndexOf('=', StringComparison.Ordinal);
                if (eq < 0) { continue; }
                var value = line[(eq + 1)..].Trim().Trim('\'', '"');
                switch (line[..eq].Trim())
                {
                    case "APP_CONNECTION": app = value; break;
                    case "ADMIN_CONNECTION": admin = value; break;
                }
            }
        }
        return (app ?? throw new InvalidOperationException("APP_CONNECTION missing"), admin ?? throw new InvalidOperationException("ADMIN_CONNECTION missing"));
    }

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Blazor.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Repository root (Blazor.sln) not found.");
    }
}
