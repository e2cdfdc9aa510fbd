using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;

namespace RnnStreams.Client.Commands;

/// <summary>
/// The silo <c>bench</c> measures: the real silo executable (its own host set-up, as deployed) started as a child process
/// on free loopback ports, and read from outside — its CPU time from <c>/proc</c>, its managed allocations, GC pauses
/// and batcher rounds from its <c>/metrics</c>, its managed heap from its <c>POST /debug/heap</c> — so that per-call
/// figures count client and silo together, and memory figures count the silo alone.
/// </summary>
internal sealed class BenchSilo : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly Process _process;
    private readonly Uri _metrics;
    private readonly Uri _heap;

    private BenchSilo(Process process, int gateway, int http, int h2c, int management)
    {
        _process = process;
        Gateway = gateway;
        HttpPort = http;
        H2cPort = h2c;
        _metrics = new Uri($"http://127.0.0.1:{management}/metrics");
        _heap = new Uri($"http://127.0.0.1:{management}/debug/heap");
    }

    public int Gateway { get; }

    public int HttpPort { get; }

    public int H2cPort { get; }

    /// <summary>
    /// Starts <paramref name="dll"/> with the embedded configuration (no Redis), the HTTP API on HTTP/1.1 and h2c with the
    /// floor endpoint and no rate limit, the heap endpoint on its management port, and <paramref name="settings"/>
    /// (configuration keys and values); waits until it has published its seed model.
    /// </summary>
    public static async Task<BenchSilo> StartAsync(string dll, IReadOnlyDictionary<string, string> settings, CancellationToken cancellation)
    {
        if (!File.Exists(dll))
        {
            throw new CliException($"bench: no silo at {dll}; build it (dotnet build -c Release silo/RnnStreams.Silo) or give --silo-dll", 2);
        }

        int gateway = PortFinder.Free(), http = PortFinder.Free(), h2c = PortFinder.Free(), management = PortFinder.Free();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        var arguments = new Dictionary<string, string>(settings)
        {
            ["Orleans:Endpoints:SiloPort"] = PortFinder.Free().ToString(CultureInfo.InvariantCulture),
            ["Orleans:Endpoints:GatewayPort"] = gateway.ToString(CultureInfo.InvariantCulture),
            ["Orleans:Endpoints:AdvertisedIPAddress"] = "127.0.0.1",
            ["urls"] = $"http://127.0.0.1:{http}",
            ["Http:H2cUrls"] = $"http://127.0.0.1:{h2c}",
            ["Management:Urls"] = $"http://127.0.0.1:{management}",
            ["Management:HeapEndpoint"] = "true",
            ["Http:Enabled"] = "true",
            ["Http:Floor"] = "true",
            ["Http:RequestsPerSecond"] = "100000000",
            ["Http:Burst"] = "100000000",

            // Only the small seed model: the demo forecaster's weights (1.3 MB with the kernel's copy) loaded or released
            // between two heap readings would swamp the per-sequence memory figure.
            ["RnnStreams:SeedModels:0"] = "models/worked-example.json",
            ["RnnStreams:SeedModels:1"] = "models/worked-example.json",
        };
        foreach (var (key, value) in arguments)
        {
            start.ArgumentList.Add($"--{key}");
            start.ArgumentList.Add(value);
        }

        start.Environment.Remove("ConnectionStrings__Redis");
        var process = Process.Start(start) ?? throw new CliException("bench: the silo did not start", 1);
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        void Read(string? line)
        {
            if (line is null)
            {
                return;
            }

            log.Enqueue(line);
            while (log.Count > 40)
            {
                log.TryDequeue(out _);
            }

            if (line.Contains("ready at version", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        }

        process.OutputDataReceived += (_, e) => Read(e.Data);
        process.ErrorDataReceived += (_, e) => Read(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var silo = new BenchSilo(process, gateway, http, h2c, management);
        var exited = process.WaitForExitAsync(cancellation);
        var first = await Task.WhenAny(ready.Task, exited, Task.Delay(TimeSpan.FromMinutes(2), cancellation));
        if (first != ready.Task)
        {
            await silo.DisposeAsync();
            throw new CliException($"bench: the silo was not ready{(process.HasExited ? $" (exit code {process.ExitCode})" : " within 2 minutes")}:{Environment.NewLine}{string.Join(Environment.NewLine, log)}", 1);
        }

        return silo;
    }

    /// <summary>The silo's CPU time so far (user and system), from <c>/proc/{pid}/stat</c>.</summary>
    public TimeSpan Cpu()
    {
        _process.Refresh();
        return _process.TotalProcessorTime;
    }

    /// <summary>Bytes the silo has allocated on its managed heap so far, and its GC pause time (from its metrics).</summary>
    public async Task<(double AllocatedBytes, double PausedSeconds, long[] Rounds)> CountersAsync()
    {
        var text = await Http.GetStringAsync(_metrics);
        double allocated = 0, paused = 0;
        var rounds = new List<(double Le, long Count)>();
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("dotnet_gc_heap_total_allocated_bytes_total", StringComparison.Ordinal))
            {
                allocated = Value(line);
            }
            else if (line.StartsWith("dotnet_gc_pause_time_seconds_total", StringComparison.Ordinal))
            {
                paused = Value(line);
            }
            else if (line.StartsWith("rnn_batcher_round_size_bucket{", StringComparison.Ordinal) && Le(line) is { } le)
            {
                rounds.Add((le, (long)Value(line)));
            }
        }

        // Cumulative Prometheus buckets → rounds per bucket of RnnConstants.BatcherRoundSizeBuckets (the same boundaries).
        var perBucket = new long[rounds.Count(r => !double.IsPositiveInfinity(r.Le))];
        for (var i = 0; i < perBucket.Length; i++)
        {
            perBucket[i] = rounds[i].Count - (i == 0 ? 0 : rounds[i - 1].Count);
        }

        return (allocated, paused, perBucket);
    }

    /// <summary>The silo's managed heap in bytes, after a forced, blocking, compacting full collection in the silo.</summary>
    public async Task<long> HeapAsync()
    {
        using var answer = await Http.PostAsync(_heap, content: null);
        answer.EnsureSuccessStatusCode();
        return (await answer.Content.ReadFromJsonAsync<HeapAnswer>())?.HeapBytes ?? throw new CliException("bench: the silo's /debug/heap answered no heapBytes", 1);
    }

    private static double Value(string line) => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);

    private static double? Le(string line)
    {
        var at = line.IndexOf("le=\"", StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        var text = line[(at + 4)..line.IndexOf('"', at + 4)];
        return text == "+Inf" ? double.PositiveInfinity : double.Parse(text, CultureInfo.InvariantCulture);
    }

    /// <summary>Stops the silo as a deployment would (SIGTERM), then kills it if it has not exited within 30 s.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!)
            {
                await term.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }

    /// <summary>The default silo executable: the repository's build beside this client's (…/client/… → …/silo/…).</summary>
    public static string DefaultDll()
    {
        var dir = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var configuration = Path.GetFileName(Path.GetDirectoryName(dir)) ?? "Release"; // bin/{Release|Debug}/net10.0
        for (var d = new DirectoryInfo(dir); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "silo", "RnnStreams.Silo", "bin", configuration, "net10.0", "RnnStreams.Silo.dll");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return Path.Combine(dir, "RnnStreams.Silo.dll");
    }

    /// <summary>The answer of the silo's <c>POST /debug/heap</c>.</summary>
    private sealed record HeapAnswer(long HeapBytes);
}

/// <summary>Free loopback ports: for the silo bench starts and for HTTP bench's bare endpoint.</summary>
internal static class PortFinder
{
    public static int Free()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
