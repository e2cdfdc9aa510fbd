using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RnnStreams.Core;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using OpenTelemetry.Metrics;
using RnnStreams.Grains;
using RnnStreams.Http;

namespace RnnStreams.Client.Commands;

/// <summary>
/// <c>bench [--cell rnn_tanh|rnn_relu|gru|lstm] [--hidden 64] [--input 8] [--output 1] [--sequences 10000] [--seconds 3] [--rounds 3] [--client gateway|local]
/// [--concurrency 256] [--batch 64] [--stream-sequences 100] [--gateway …|--redis …]</c>: everything in one run, against a
/// silo in this process by default (reached through its gateway by an Orleans client, as a producer would, or with
/// <c>--client local</c> through the silo's own client), or a running cluster when --gateway or --redis is given.
/// Prints a table, then one JSON line.
/// </summary>
internal static partial class BenchCommand
{
    private static async Task<int> Run(ParseResult args, Options o, TextWriter stdout, CancellationToken cancellation)
    {
        if (args.GetValue(o.Mqtt) is { } broker)
        {
            return await MqttBench.RunAsync(args, o, broker, stdout, cancellation);
        }

        var p = new BenchParameters(
            Hidden: args.GetValue(o.Hidden),
            Input: args.GetValue(o.Input),
            Output: args.GetValue(o.Output),
            Layers: args.GetValue(o.Layers),
            Sequences: args.GetValue(o.Sequences) ?? 10_000,
            Seconds: args.GetValue(o.Seconds) ?? 3,
            Rounds: args.GetValue(o.Rounds),
            Concurrency: args.GetValue(o.Concurrency),
            Batch: args.GetValue(o.Batch),
            StreamSequences: args.GetValue(o.StreamSequences),
            MemorySequences: args.GetValue(o.MemorySequences));
        var external = args.GetValue<string>(ConnectionOptions.Gateway) is not null || args.GetValue<string>(ConnectionOptions.Redis) is not null;
        var clientKind = args.GetValue(o.Client)!;
        if (clientKind is not ("gateway" or "local"))
        {
            throw new CliException($"--client is gateway (an Orleans client over loopback TCP, as a real producer) or local (the silo's own client, no network), got '{clientKind}'", 2);
        }
        var publishText = args.GetValue(o.Outputs)!;
        if (!Enum.TryParse<OutputPublishing>(publishText, ignoreCase: true, out var publishing))
        {
            throw new CliException($"--outputs is Always, WhenWatched or Never, got '{publishText}'", 2);
        }

        var publishOutputs = publishing != OutputPublishing.Never;
        var cellName = args.GetValue(o.Cell)!;
        if (!ModelNames.TryParseCell(cellName, out var cell))
        {
            throw new CliException($"--cell is rnn_tanh, rnn_relu, gru or lstm, got '{cellName}'", 2);
        }

        var durability = args.GetValue(o.Durability)!;

        var model = RandomModel.Create($"bench-{cell.ToFileName()}-h{p.Hidden}-d{p.Input}", p.Input, p.Hidden, p.Output, p.Layers, cell, seed: 42);
        IHost? silo = null;
        var httpPort = 0;
        var h2cPort = 0;
        Connection? connection = null;
        IClusterClient client;
        if (external)
        {
            connection = await Connection.OpenAsync(args);
            client = connection.Client;
        }
        else
        {
            var gatewayPort = PortFinder.Free();
            httpPort = PortFinder.Free();
            h2cPort = PortFinder.Free();
            silo = await StartInProcessSiloAsync(publishing, durability, gatewayPort, httpPort, h2cPort, args.GetValue(o.BatchWindow), args.GetValue(o.BatchMinBytes));
            if (clientKind == "gateway")
            {
                connection = await Connection.OpenAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, gatewayPort), TimeSpan.FromSeconds(30));
                client = connection.Client;
            }
            else
            {
                client = silo.Services.GetRequiredService<IClusterClient>();
            }
        }

        // Memory is read from this process's heap, so it needs the silo here; it is measured through the silo's own client
        // so that a gateway client's buffers do not count as the sequences' memory.
        var memoryClient = silo?.Services.GetRequiredService<IClusterClient>();

        try
        {
            await client.GetGrain<IModelGrain>(model.Name).PublishIfNone(ModelFile.ToJson(model));
            var results = new List<(string Name, double Value, string Unit, string Note)>();
            var run = $"b{DateTime.UtcNow:HHmmss}{Random.Shared.Next(100, 999)}";

            var kernel = MeasureKernel(model, p);
            results.Add(("kernel_steps_per_s", kernel, "steps/s", $"bare span kernel, {Environment.ProcessorCount} threads"));

            var sequences = Enumerable.Range(0, p.Sequences).Select(i => client.GetGrain<ISequenceGrain>($"{run}-{i}")).ToArray();
            var pings = Enumerable.Range(0, p.Sequences).Select(i => client.GetGrain<IPingGrain>($"{run}-{i}")).ToArray();
            await ForEachAsync(sequences, p.Concurrency, s => s.Start(new StartRequest(model.Name)));
            await ForEachAsync(pings, p.Concurrency, g => g.Ping());
            var x = Enumerable.Range(0, p.Input).Select(i => Math.Sin(i)).ToArray();
            var next = new long[p.Sequences];
            Array.Fill(next, 1);

            var batchInputs = Enumerable.Repeat(x, p.Batch).SelectMany(v => v).ToArray();
            Task Ping(int i) => pings[i].Ping();
            Task Echo(int i) => pings[i].Echo(next[i], x);
            async Task Rpc(int i)
            {
                await sequences[i].Step(next[i], x);
                next[i]++;
            }

            async Task Batch(int i)
            {
                await sequences[i].StepMany(next[i], batchInputs);
                next[i] += p.Batch;
            }

            // This machine's speed drifts by tens of percent within a minute, so the three closed-loop figures are taken
            // in interleaved rounds after a warm-up, each reported as the median over the rounds, and the ratios as the
            // median of the per-round ratios (each from measurements seconds apart).
            var warmUp = p with { Seconds = Math.Max(2, p.Seconds) };
            await Closed(warmUp, Ping);
            await Closed(warmUp, Echo);
            await Closed(warmUp, Rpc);
            await Closed(warmUp, Batch);
            var rounds = new List<(Load Ping, Load Echo, Load Rpc, Load Batch)>();
            var batcher = silo?.Services.GetRequiredService<StepBatcher>();
            var rpcRounds = new long[StepBatcher.SizeBuckets.Length];
            for (var r = 0; r < p.Rounds; r++)
            {
                var pingLoad = await Closed(p, Ping);
                var echoLoad = await Closed(p, Echo);
                var before = batcher?.RoundSizes();
                var rpcLoad = await Closed(p, Rpc);
                if (batcher is not null)
                {
                    var after = batcher.RoundSizes();
                    for (var i = 0; i < rpcRounds.Length; i++)
                    {
                        rpcRounds[i] += after[i] - before![i];
                    }
                }

                rounds.Add((pingLoad, echoLoad, rpcLoad, await Closed(p, Batch)));
            }

            foreach (var (round, index) in rounds.Select((r, i) => (r, i)))
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# round {index + 1}: ping {round.Ping.Rate:F0} calls/s ({round.Ping.CpuUs:F1} µs CPU, {round.Ping.Bytes:F0} B each), echo {round.Echo.Rate:F0} calls/s ({round.Echo.CpuUs:F1} µs, {round.Echo.Bytes:F0} B), rpc {round.Rpc.Rate:F0} steps/s ({round.Rpc.CpuUs:F1} µs, {round.Rpc.Bytes:F0} B), batch {round.Batch.Rate * p.Batch:F0} steps/s ({round.Batch.CpuUs:F1} µs, {round.Batch.Bytes:F0} B per call)"));
            }

            var ping = Median(rounds.Select(r => r.Ping.Rate));
            var echo = Median(rounds.Select(r => r.Echo.Rate));
            var rpc = Median(rounds.Select(r => r.Rpc.Rate));
            var batch = Median(rounds.Select(r => r.Batch.Rate)) * p.Batch;
            var rpcOverPing = Median(rounds.Select(r => r.Rpc.Rate / r.Ping.Rate));
            var pingCpu = Median(rounds.Select(r => r.Ping.CpuUs));
            var rpcCpu = Median(rounds.Select(r => r.Rpc.CpuUs));
            results.Add(("ping_calls_per_s", ping, "calls/s", $"empty grain calls, concurrency {p.Concurrency}"));
            results.Add(("echo_calls_per_s", echo, "calls/s", "calls shaped like Step and its answer, no work: Orleans' cost of the step's messages"));
            results.Add(("rpc_steps_per_s", rpc, "steps/s", "Step: one element per call"));
            results.Add(("batch_steps_per_s", batch, "steps/s", $"StepMany: {p.Batch} elements per call"));
            results.Add(("ping_cpu_us", pingCpu, "µs", "process CPU time per empty call (client and silo)"));
            results.Add(("echo_cpu_us", Median(rounds.Select(r => r.Echo.CpuUs)), "µs", "process CPU time per Step-shaped call with no work"));
            results.Add(("rpc_cpu_us", rpcCpu, "µs", "process CPU time per Step"));
            results.Add(("rpc_alloc_bytes", Median(rounds.Select(r => r.Rpc.Bytes)), "B", "managed bytes allocated per Step (client and silo)"));
            var roundSizes = RoundSizes(rpcRounds);
            results.Add(("rpc_batched_rounds", rpcRounds.Sum(), "rounds", batcher is null ? "only with the in-process silo" : rpcRounds.Sum() == 0 ? "the step batcher took no element (off, or the model is under --batch-min-bytes)" : $"step batcher rounds during the rpc measurements, by sequences per round: {roundSizes}"));

            var stream = publishOutputs ? await MeasureStreamAsync(client, model, p, run, cancellation) : (Rate: double.NaN, InOrder: true);
            results.Add(("stream_steps_per_s", stream.Rate, "steps/s", $"rnn-in events in, rnn-out events to a subscriber, {p.StreamSequences} sequences, order {(stream.InOrder ? "checked" : "VIOLATED")}"));

            if (silo is not null)
            {
                results.AddRange(await HttpBench.MeasureAsync(client, model, p with { Concurrency = args.GetValue(o.HttpConnections) }, run, httpPort, h2cPort));
            }

            var pauseBefore = GC.GetTotalPauseDuration();
            var latencyClock = Stopwatch.StartNew();
            var (p50, p99, offered) = await MeasureLatencyAsync(sequences, next, x, rpc / 2, p);
            var paused = (GC.GetTotalPauseDuration() - pauseBefore).TotalMilliseconds / latencyClock.Elapsed.TotalMilliseconds;
            results.Add(("p50_ms", p50, "ms", $"Step sent → y_t received, paced at {offered:F0} steps/s (aiming at half of rpc)"));
            results.Add(("p99_ms", p99, "ms", string.Empty));
            results.Add(("gc_paused_percent", paused * 100, "%", "share of the latency measurement the process spent in GC pauses"));

            var (bytes, storedBytes) = memoryClient is null ? (double.NaN, double.NaN) : await MeasureMemoryAsync(memoryClient, model, p, run);
            results.Add(("bytes_per_sequence", bytes, "B", external ? "only with the in-process silo" : $"managed heap per active sequence ({p.MemorySequences} activated from storage), weights shared"));
            results.Add(("stored_bytes_per_sequence", storedBytes, "B", external ? "only with the in-process silo" : "what stays while it is deactivated: the in-memory storage's copy (in Redis in a deployment) and the silo's grown tables"));
            var floor = memoryClient is null ? double.NaN : await MeasureActivationFloorAsync(memoryClient, p);
            results.Add(("bytes_per_activation", floor, "B", external ? "only with the in-process silo" : "managed heap per activation of an empty grain: Orleans' own floor"));

            stdout.WriteLine($"# bench: {model}, {p.Sequences} sequences, concurrency {p.Concurrency}, {p.Seconds} s per measurement, {(external ? "external cluster" : $"in-process silo, {clientKind} client")}, outputs published {(external ? "as the cluster says" : publishing.ToString())}");
            stdout.WriteLine($"{"measure",-20} {"value",14}  {"unit",-8} {"× kernel",9}  note");
            foreach (var (name, value, unit, note) in results)
            {
                var ratio = unit == "steps/s" && name != "kernel_steps_per_s" ? (value / kernel).ToString("F3", CultureInfo.InvariantCulture) : string.Empty;
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-20} {value,14:N1}  {unit,-8} {ratio,9}  {note}"));
            }

            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# rpc/ping={rpcOverPing:F3} (median of {p.Rounds} rounds: {string.Join(", ", rounds.Select(r => (r.Rpc.Rate / r.Ping.Rate).ToString("F3", CultureInfo.InvariantCulture)))}) ping_cpu/rpc_cpu={pingCpu / rpcCpu:F3} batch/kernel={batch / kernel:F3}"));
            var json = new Dictionary<string, object>();
            foreach (var (name, value, _, _) in results)
            {
                json[name] = double.IsNaN(value) ? null! : Math.Round(value, 3);
            }

            json["rpc_round_sizes"] = roundSizes;
            json["rpc_over_ping"] = Math.Round(rpcOverPing, 3);
            json["echo_over_ping"] = Math.Round(Median(rounds.Select(r => r.Echo.Rate / r.Ping.Rate)), 3);
            json["ping_cpu_over_rpc_cpu"] = Math.Round(pingCpu / rpcCpu, 3);
            json["batch_over_kernel"] = Math.Round(batch / kernel, 3);
            json["stream_in_order"] = stream.InOrder;
            json["hidden"] = p.Hidden;
            json["input"] = p.Input;
            json["output"] = p.Output;
            json["layers"] = p.Layers;
            json["cell"] = cell.ToFileName();
            json["sequences"] = p.Sequences;
            json["concurrency"] = p.Concurrency;
            json["batch"] = p.Batch;
            json["seconds"] = p.Seconds;
            json["rounds"] = p.Rounds;
            json["cores"] = Environment.ProcessorCount;
            json["silo"] = external ? "external" : "in-process";
            json["client"] = external ? "gateway" : clientKind;
            json["outputs"] = external ? "as configured on the cluster" : publishing.ToString();
            json["durability"] = external ? "as configured on the cluster" : durability;
            stdout.WriteLine(JsonSerializer.Serialize(json));
            return stream.InOrder ? 0 : 1;
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }

            if (silo is not null)
            {
                await silo.StopAsync();
                silo.Dispose();
            }
        }
    }

    private static async Task<IHost> StartInProcessSiloAsync(OutputPublishing publishing, string durability, int gatewayPort, int httpPort, int h2cPort,
        int batchWindowUs, long? batchMinBytes)
    {
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateBuilder(new Microsoft.AspNetCore.Builder.WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        // The API twice: HTTP/1.1 on one port, h2c (HTTP/2 with prior knowledge, Http:Protocols=Http2) on the other.
        builder.WebHost.UseUrls($"http://127.0.0.1:{httpPort}", $"http://127.0.0.1:{h2cPort}");
        builder.WebHost.ConfigureKestrel(k => HttpApi.ConfigureKestrel(k, new HttpApiOptions(), port => port == h2cPort ? HttpProtocols.Http2 : HttpProtocols.Http1));
        // The HTTP API as the silo serves it, without its per-caller rate limit (the bench is one caller).
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Http:RequestsPerSecond"] = "100000000",
            ["Http:Burst"] = "100000000",
            ["Http:Floor"] = "true", // POST /v1/floor/{id}/elements: the same endpoint without its grain call
        });
        builder.Services.AddRnnStreamsHttp(builder.Configuration);
        // The silo's metrics and /metrics, as its AddRnnStreamsTelemetry registers them; no traces (nothing listens, as
        // in a silo without an OTLP endpoint), so the bench measures untraced steps.
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(RnnMetrics.MeterName, "Microsoft.Orleans", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
            .AddPrometheusExporter());
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(PortFinder.Free(), gatewayPort,
                serviceId: Environment.GetEnvironmentVariable("Orleans__ServiceId") ?? "rnnstreams",
                clusterId: Environment.GetEnvironmentVariable("Orleans__ClusterId") ?? "rnnstreams");
            silo.AddRnnStreams(configure: o =>
            {
                o.DefaultModel = null;
                o.PublishOutputs = publishing;
                o.Durability = durability;
                o.BatchWindow = TimeSpan.FromTicks(batchWindowUs * TimeSpan.TicksPerMicrosecond);
                o.BatchMinWeightBytes = batchMinBytes ?? o.BatchMinWeightBytes;
            });
            silo.AddRnnStreamsInMemory();
        });
        var host = builder.Build();
        host.UseRnnStreamsHttp();
        await host.StartAsync();
        return host;
    }

    /// <summary>A histogram of round sizes as text: "1:120 2:30 3-4:12 …" (buckets with no round left out).</summary>
    private static string RoundSizes(long[] counts)
    {
        var parts = new List<string>();
        for (var i = 0; i < counts.Length; i++)
        {
            if (counts[i] == 0)
            {
                continue;
            }

            var low = i == 0 ? 1 : StepBatcher.SizeBuckets[i - 1] + 1;
            var high = StepBatcher.SizeBuckets[i];
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{(low == high ? $"{high}" : $"{low}-{high}")}:{counts[i]}"));
        }

        return parts.Count == 0 ? "none" : string.Join(' ', parts);
    }

    /// <summary>All cores step their share of the sequences' states with the span kernel for the measurement time.</summary>
    private static double MeasureKernel(RnnModel model, BenchParameters p)
    {
        var threads = Environment.ProcessorCount;
        var perThread = Math.Max(1, p.Sequences / threads);
        long total = 0;
        var stop = Stopwatch.StartNew();
        var duration = TimeSpan.FromSeconds(p.Seconds);
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ =>
        {
            var states = new double[perThread * model.StateSize];
            var x = Enumerable.Range(0, model.InputSize).Select(i => Math.Sin(i)).ToArray();
            var y = new double[model.OutputSize];
            long steps = 0;
            while (stop.Elapsed < duration)
            {
                for (var s = 0; s < perThread; s++)
                {
                    model.Step(x, states.AsSpan(s * model.StateSize, model.StateSize), y);
                }

                steps += perThread;
            }

            Interlocked.Add(ref total, steps);
        });
        return total / stop.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// C workers, each owning sequences i ≡ w (mod C), call back to back for the measurement time. Besides the rate it
    /// reports the whole process's CPU time and managed allocation per call (client and in-process silo together): figures
    /// that a machine whose speed drifts from minute to minute disturbs far less than the rate.
    /// </summary>
    internal static async Task<Load> Closed(BenchParameters p, Func<int, Task> call)
    {
        long total = 0;
        var duration = TimeSpan.FromSeconds(p.Seconds);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var allocated = GC.GetTotalAllocatedBytes();
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, Math.Min(p.Concurrency, p.Sequences)).Select(async w =>
        {
            long calls = 0;
            var i = w;
            while (clock.Elapsed < duration)
            {
                await call(i);
                calls++;
                i += p.Concurrency;
                if (i >= p.Sequences)
                {
                    i = w;
                }
            }

            Interlocked.Add(ref total, calls);
        });
        await Task.WhenAll(workers);
        var elapsed = clock.Elapsed.TotalSeconds;
        var cpuUs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds;
        var bytes = GC.GetTotalAllocatedBytes() - allocated;
        return new Load(total / elapsed, cpuUs / total, bytes / (double)total);
    }

    /// <summary>A closed-loop measurement: calls per second, process CPU µs per call, managed bytes allocated per call.</summary>
    internal sealed record Load(double Rate, double CpuUs, double Bytes);

    /// <summary>
    /// Paced at a target rate (half the closed-loop maximum): each call's latency from the moment it was sent to the
    /// moment its y_t came back. Returns the rate actually achieved.
    /// </summary>
    private static Task<(double P50, double P99, double Offered)> MeasureLatencyAsync(ISequenceGrain[] sequences, long[] next, double[] x, double rate, BenchParameters p) =>
        PacedAsync(p, rate, async i =>
        {
            await sequences[i].Step(next[i], x);
            next[i]++;
        });

    /// <summary>
    /// C workers (each owning sequences i ≡ w mod C) call at a fixed total rate for the measurement time, each from a
    /// random phase; returns the send-to-answer quantiles and the rate achieved.
    /// </summary>
    internal static async Task<(double P50, double P99, double Offered)> PacedAsync(BenchParameters p, double rate, Func<int, Task> call)
    {
        var workers = Math.Min(p.Concurrency, p.Sequences);
        var interval = TimeSpan.FromSeconds(workers / rate);
        var duration = TimeSpan.FromSeconds(p.Seconds);
        var samples = new List<double>[workers];
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async w =>
        {
            var list = samples[w] = [];
            var i = w;
            var due = TimeSpan.FromTicks(Random.Shared.NextInt64(interval.Ticks));
            while (due < duration)
            {
                var wait = due - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                }

                var sent = clock.Elapsed;
                await call(i);
                list.Add((clock.Elapsed - sent).TotalMilliseconds);
                due += interval;
                i += workers;
                if (i >= p.Sequences)
                {
                    i = w;
                }
            }
        }));
        var all = samples.SelectMany(s => s).Order().ToArray();
        return (Quantile(all, 0.50), Quantile(all, 0.99), all.Length / clock.Elapsed.TotalSeconds);
    }

    /// <summary>Inputs as batched rnn-in events, outputs counted and order-checked by one subscriber per sequence.</summary>
    private static async Task<(double Rate, bool InOrder)> MeasureStreamAsync(IClusterClient client, RnnModel model, BenchParameters p, string run, CancellationToken cancellation)
    {
        var count = Math.Min(p.StreamSequences, p.Sequences);
        var ids = Enumerable.Range(0, count).Select(i => $"{run}-stream-{i}").ToArray();
        var received = new long[count];
        long outOfOrder = 0;
        long total = 0;
        var subscriptions = new List<OutputSubscription>();
        for (var s = 0; s < count; s++)
        {
            var index = s;
            await client.GetGrain<ISequenceGrain>(ids[s]).Start(new StartRequest(model.Name));
            subscriptions.Add(await OutputSubscription.SubscribeAsync(client, ids[s], item =>
            {
                if (item.Kind == OutputKind.Step)
                {
                    if (item.N != received[index] + 1)
                    {
                        Interlocked.Increment(ref outOfOrder);
                    }

                    received[index] = item.N;
                    Interlocked.Increment(ref total);
                }

                return ValueTask.CompletedTask;
            }));
        }

        var provider = client.GetStreamProvider(RnnConstants.StreamProvider);
        var streams = ids.Select(id => provider.GetStream<SequenceInput>(RnnConstants.InputStream(id))).ToArray();
        var x = Enumerable.Range(0, model.InputSize).Select(i => Math.Cos(i)).ToArray();
        var sent = new long[count];
        var duration = TimeSpan.FromSeconds(p.Seconds);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, count).Select(async s =>
        {
            while (clock.Elapsed < duration)
            {
                // Keep at most two batches in flight per sequence: streams have no back-pressure of their own.
                while (sent[s] - Interlocked.Read(ref received[s]) > 2 * p.Batch && clock.Elapsed < duration)
                {
                    await Task.Delay(1, cancellation);
                }

                var first = sent[s] + 1;
                await streams[s].OnNextBatchAsync(Enumerable.Range(0, p.Batch).Select(k => new SequenceInput(first + k, x)).ToList());
                sent[s] += p.Batch;
            }
        }));
        var deadline = Stopwatch.StartNew();
        while (Interlocked.Read(ref total) < sent.Sum() && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(10, cancellation);
        }

        var rate = Interlocked.Read(ref total) / clock.Elapsed.TotalSeconds;
        foreach (var subscription in subscriptions)
        {
            await subscription.DisposeAsync();
        }

        return (rate, Interlocked.Read(ref outOfOrder) == 0 && Interlocked.Read(ref total) == sent.Sum());
    }

    /// <summary>Managed heap growth per newly activated sequence (started, one element applied), weights shared.</summary>
    /// <summary>
    /// Managed heap per active sequence: the sequences are started, deactivated, then activated again from storage, and
    /// the second activation's growth is what an active sequence costs (the first also grows the silo's tables, which do
    /// not shrink). What stays while they are deactivated is what the in-memory grain storage keeps of each (a
    /// deployment keeps it in Redis, outside the silo) plus those tables, reported on its own.
    /// </summary>
    private static async Task<(double Active, double Stored)> MeasureMemoryAsync(IClusterClient client, RnnModel model, BenchParameters p, string run)
    {
        var x = new double[model.InputSize];
        var ids = Enumerable.Range(0, p.MemorySequences).Select(i => client.GetGrain<ISequenceGrain>($"{run}-mem-{i}")).ToArray();
        await ids[0].Start(new StartRequest(model.Name)); // not counted: the first touches shared structures
        await ids[0].Step(1, x);
        var counted = ids.Skip(1).ToArray();
        var before = Heap();
        await ForEachAsync(counted, p.Concurrency, async s =>
        {
            await s.Start(new StartRequest(model.Name));
            await s.Step(1, x);
        });
        await DeactivateAsync(client, counted);
        var stored = Heap();
        await ForEachAsync(counted, p.Concurrency, s => s.Step(2, x));
        var active = Heap();
        return ((active - stored) / (double)counted.Length, (stored - before) / (double)counted.Length);
    }

    /// <summary>Asks each sequence to deactivate and waits until the silo reports that many fewer activations.</summary>
    private static async Task DeactivateAsync(IClusterClient client, ISequenceGrain[] sequences)
    {
        var management = client.GetGrain<IManagementGrain>(0);
        var target = await SequenceActivationsAsync(management) - sequences.Length;
        await ForEachAsync(sequences, 256, s => s.Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle().AsTask());
        var deadline = Stopwatch.StartNew();
        while (await SequenceActivationsAsync(management) > target && deadline.Elapsed < TimeSpan.FromSeconds(120))
        {
            await Task.Delay(200);
        }

        await Task.Delay(500); // the last deactivations' writes
    }

    private static async Task<int> SequenceActivationsAsync(IManagementGrain management) =>
        (await management.GetSimpleGrainStatistics())
            .Where(s => s.GrainType.Contains(nameof(SequenceGrain), StringComparison.Ordinal))
            .Sum(s => s.ActivationCount);

    private static async Task<double> MeasureActivationFloorAsync(IClusterClient client, BenchParameters p)
    {
        var run = $"b{DateTime.UtcNow:HHmmss}{Random.Shared.Next(100, 999)}";
        var grains = Enumerable.Range(0, p.MemorySequences).Select(i => client.GetGrain<IPingGrain>($"{run}-mem-{i}")).ToArray();
        await grains[0].Ping();
        var before = Heap();
        await ForEachAsync(grains.Skip(1).ToArray(), p.Concurrency, g => g.Ping());
        return (Heap() - before) / (double)(p.MemorySequences - 1);
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    internal static async Task ForEachAsync<T>(T[] items, int concurrency, Func<T, Task> action)
    {
        var index = -1;
        await Task.WhenAll(Enumerable.Range(0, Math.Min(concurrency, items.Length)).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref index)) < items.Length)
            {
                await action(items[i]);
            }
        }));
    }

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static double Quantile(double[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    internal sealed record BenchParameters(int Hidden, int Input, int Output, int Layers, int Sequences, int Seconds, int Rounds,
        int Concurrency, int Batch, int StreamSequences, int MemorySequences);
}

/// <summary>Free loopback ports for the in-process silo.</summary>
internal static class PortFinder
{
    public static int Free()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
