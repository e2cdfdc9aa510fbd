using System.Diagnostics;
using System.Net.Sockets;

namespace RnnStreams.TestSupport;

/// <summary>
/// A real redis-server (Debian's package) on a free loopback port, with no persistence of its own or, with
/// <c>appendOnly</c>, with an append-only file fsynced on every write in a folder of its own (as a deployment should run
/// it); disposing stops it. Tests that need Redis fail with a clear message when redis-server is not installed
/// (.ci/run installs it).
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly string? _dataDir;
    private Process _process;

    private RedisServer(Process process, int port, string? dataDir)
    {
        _process = process;
        Port = port;
        _dataDir = dataDir;
    }

    public int Port { get; }

    /// <summary>host:port for StackExchange.Redis and the silo's ConnectionStrings:Redis.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    /// <summary>The server's process id (to send it signals).</summary>
    public int ProcessId => _process.Id;

    public static Task<RedisServer> StartAsync(bool appendOnly = false) =>
        StartAsync(Repository.FreePort(), appendOnly ? Directory.CreateTempSubdirectory("rnn-redis-").FullName : null);

    private static async Task<RedisServer> StartAsync(int port, string? dataDir)
    {
        var binary = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("redis-server is not installed: apt-get install -y redis-server (.ci/run does this)");
        var info = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] persistence = dataDir is null ? ["--appendonly", "no"] : ["--appendonly", "yes", "--appendfsync", "always", "--dir", dataDir];
        foreach (var a in new[] { "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--daemonize", "no", "--loglevel", "warning" }.Concat(persistence))
        {
            info.ArgumentList.Add(a);
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new RedisServer(process, port, dataDir);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            try
            {
                if ((await server.CommandAsync("PING")).Contains("PONG", StringComparison.Ordinal))
                {
                    return server;
                }
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
            }

            if (process.HasExited || DateTime.UtcNow >= deadline)
            {
                await server.DisposeAsync();
                throw new InvalidOperationException($"redis-server did not start on port {port}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Sends one command in Redis' inline form and returns the raw reply (enough for PING, CONFIG SET, DBSIZE).</summary>
    public async Task<string> CommandAsync(string command)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", Port);
        var stream = client.GetStream();
        var bytes = System.Text.Encoding.ASCII.GetBytes(command + "\r\n");
        await stream.WriteAsync(bytes);
        var buffer = new byte[4096];
        var read = await stream.ReadAsync(buffer);
        return System.Text.Encoding.ASCII.GetString(buffer, 0, read);
    }

    /// <summary>Makes every write fail at once with an out-of-memory error (reads still work), or lifts that.</summary>
    public async Task RefuseWritesAsync(bool refuse)
    {
        await CommandAsync("CONFIG SET maxmemory-policy noeviction");
        var reply = await CommandAsync(refuse ? "CONFIG SET maxmemory 1" : "CONFIG SET maxmemory 0");
        if (!reply.StartsWith("+OK", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("CONFIG SET maxmemory failed: " + reply);
        }
    }

    /// <summary>Holds every write (and script) for <paramref name="duration"/> without failing it; reads go on.</summary>
    public async Task PauseWritesAsync(TimeSpan duration)
    {
        var reply = await CommandAsync($"CLIENT PAUSE {(long)duration.TotalMilliseconds} WRITE");
        if (!reply.StartsWith("+OK", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("CLIENT PAUSE failed: " + reply);
        }
    }

    /// <summary>Stops the server's process (SIGSTOP): connections stay open and nothing answers, as in an outage. Its data stays.</summary>
    public Task FreezeAsync() => SignalAsync("STOP");

    /// <summary>Lets a frozen server go on (SIGCONT).</summary>
    public Task ThawAsync() => SignalAsync("CONT");

    /// <summary>Kills the server and starts a new one on the same port, with no data: a restart without persistence.</summary>
    public async Task RestartEmptyAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
        var fresh = await StartAsync(Port, null);
        _process = fresh._process;
    }

    /// <summary>Kills the server (SIGKILL) and starts it again on the same port and data: a crash, with what it persisted.</summary>
    public async Task CrashAndRestartAsync()
    {
        await CrashAsync();
        await RestartAsync();
    }

    /// <summary>Kills the server (SIGKILL): connections are refused until <see cref="RestartAsync"/>.</summary>
    public async Task CrashAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>Starts a crashed server again on the same port and data (the append-only file, if it keeps one).</summary>
    public async Task RestartAsync()
    {
        var restarted = await StartAsync(Port, _dataDir);
        _process = restarted._process;
    }

    private async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {_process.Id} failed");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process.HasExited is false)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        if (_dataDir is not null)
        {
            Directory.Delete(_dataDir, recursive: true);
        }
    }
}
