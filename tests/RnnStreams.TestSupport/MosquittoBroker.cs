using System.Diagnostics;
using System.Net.Sockets;

namespace RnnStreams.TestSupport;

/// <summary>
/// A real mosquitto broker (Debian's package) on a free loopback port, anonymous, in memory; disposing stops it. With
/// <see cref="PublishAsync"/> and <see cref="SubscribeAsync"/> tests speak to it through Debian's mosquitto_pub and
/// mosquitto_sub, as any device would: no code of ours on that side. Tests that need it fail with a clear message when
/// it is not installed (.ci/run installs it).
/// </summary>
public sealed class MosquittoBroker : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dir;

    private MosquittoBroker(Process process, int port, string dir)
    {
        _process = process;
        Port = port;
        _dir = dir;
    }

    public int Port { get; }

    public int ProcessId => _process.Id;

    public static async Task<MosquittoBroker> StartAsync()
    {
        var binary = new[] { "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("mosquitto is not installed: apt-get install -y mosquitto mosquitto-clients (.ci/run does this)");
        var port = Repository.FreePort();
        var dir = Directory.CreateTempSubdirectory("rnn-mosquitto-").FullName;
        var config = Path.Combine(dir, "mosquitto.conf");
        await File.WriteAllTextAsync(config, $"""
            listener {port} 127.0.0.1
            allow_anonymous true
            persistence false
            max_queued_messages 100000
            max_inflight_messages 0
            """ + "\n");
        var info = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(config);
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var broker = new MosquittoBroker(process, port, dir);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port);
                return broker;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(50);
            }
            catch (SocketException)
            {
                await broker.DisposeAsync();
                throw new InvalidOperationException($"mosquitto did not start on port {port}");
            }
        }
    }

    /// <summary>mosquitto_pub, MQTT 5, QoS 1.</summary>
    public async Task PublishAsync(string topic, string message)
    {
        var result = await ProcessRunner.RunProgramAsync("mosquitto_pub", ["-V", "5", "-q", "1", "-h", "127.0.0.1", "-p", Port.ToString(), "-t", topic, "-m", message], TimeSpan.FromSeconds(30));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"mosquitto_pub failed ({result.ExitCode}): {result.StandardError}");
        }
    }

    /// <summary>
    /// Starts mosquitto_sub on <paramref name="filter"/> (MQTT 5, QoS 1, <c>-v</c>: "topic payload" per line), waits until
    /// it is subscribed, and returns the task of its output: at most <paramref name="count"/> messages, or what came
    /// within <paramref name="timeout"/>.
    /// </summary>
    public async Task<Task<string[]>> SubscribeAsync(string filter, int count, TimeSpan timeout)
    {
        var marker = $"{filter.TrimEnd('#', '/')}/ready-{Guid.NewGuid():N}";
        var args = new[] { "-V", "5", "-q", "1", "-h", "127.0.0.1", "-p", Port.ToString(), "-v", "-t", filter, "-t", marker, "-W", ((int)Math.Ceiling(timeout.TotalSeconds)).ToString() };
        var info = new ProcessStartInfo("mosquitto_sub") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        var process = Process.Start(info)!;
        var lines = new List<string>();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var done = new TaskCompletionSource<string[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                lock (lines)
                {
                    done.TrySetResult([.. lines]);
                }

                return;
            }

            if (e.Data.StartsWith(marker, StringComparison.Ordinal))
            {
                ready.TrySetResult();
                return;
            }

            lock (lines)
            {
                lines.Add(e.Data);
                if (lines.Count == count)
                {
                    // Counted here, not with mosquitto_sub's -C: that would count the ready markers too, and more than
                    // one arrives when subscribing takes longer than a marker's 200 ms.
                    done.TrySetResult([.. lines]);
                }
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        // Published until mosquitto_sub shows it: from then on it is subscribed.
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!ready.Task.IsCompleted && DateTime.UtcNow < until)
        {
            await PublishAsync(marker, "ready");
            await Task.WhenAny(ready.Task, Task.Delay(200));
        }

        if (!ready.Task.IsCompleted)
        {
            process.Kill();
            throw new InvalidOperationException("mosquitto_sub did not subscribe within 10 s");
        }

        return WaitAsync();

        async Task<string[]> WaitAsync()
        {
            var result = await done.Task; // count lines, or the end of its output (its -W timeout)
            if (!process.HasExited)
            {
                process.Kill();
            }

            await process.WaitForExitAsync();
            process.Dispose();
            return result;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
