using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using RnnStreams.Core;

namespace RnnStreams.Client.Commands;

/// <summary>
/// <c>bench [--cell rnn_tanh|rnn_relu|gru|lstm] [--hidden 64] [--input 8] [--output 1] [--sequences 10000] [--seconds 3] [--rounds 3]
/// [--concurrency 256] [--batch 64] [--stream-sequences 100] [--silo-dll PATH | --gateway … | --redis …]</c>: everything in
/// one run, against the silo executable started as a child process (<see cref="BenchSilo"/>) and reached through its
/// gateway by an Orleans client, as a producer would, or against a running cluster when --gateway or --redis is given.
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
        var publishText = args.GetValue(o.Outputs)!;
        // The silo reads the value as RnnStreams:PublishOutputs; its spelling here is the one the report prints.
        var publishing = Array.Find(["Always", "WhenWatched", "Never"], v => string.Equals(v, publishText, StringComparison.OrdinalIgnoreCase))
            ?? throw new CliException($"--outputs is Always, WhenWatched or Never, got '{publishText}'", 2);
        var publishOutputs = publishing != "Never";
        var cellName = args.GetValue(o.Cell)!;
        if (!ModelNames.TryParseCell(cellName, out var cell))
        {
            throw new CliException($"--cell is rnn_tanh, rnn_relu, gru or lstm, got '{cellName}'", 2);
        }

        var durability = args.GetValue(o.Durability)!;

        var siloDll = args.GetValue(o.SiloDll);
        if (siloDll is not null && external)
        {
            throw new CliException("--silo-dll names the silo bench starts: not with --gateway or --redis, which measure a running cluster", 2);
        }

        var float32 = args.GetValue(o.Dtype) == "float32";
        var model = RandomModel.Create($"bench-{cell.ToFileName()}-h{p.Hidden}-d{p.Input}{(float32 ? "-f32" : "")}", p.Input, p.Hidden, p.Output, p.Layers, cell, seed: 42);
        if (float32)
        {
            model = model.WithPrecision(ModelPrecision.Float32);
        }
        BenchSilo? silo = null;
        Connection connection;
        if (external)
        {
            connection = await Connection.OpenAsync(args);
        }
        else
        {
            var settings = new Dictionary<string, string>
            {
                ["RnnStreams:DefaultModel"] = string.Empty,
                ["RnnStreams:PublishOutputs"] = publishing,
                ["RnnStreams:Durability"] = durability,
                ["RnnStreams:BatchWindow"] = TimeSpan.FromTicks(args.GetValue(o.BatchWindow) * TimeSpan.TicksPerMicrosecond).ToString("c", CultureInfo.InvariantCulture),
            };
            if (args.GetValue(o.BatchMinBytes) is { } minBytes)
            {
                settings["RnnStreams:BatchMinWeightBytes"] = minBytes.ToString(CultureInfo.InvariantCulture);
            }

            silo = await BenchSilo.StartAsync(siloDll ?? BenchSilo.DefaultDll(), settings, cancellation);
            try
            {
                connection = await Connection.OpenAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, silo.Gateway), TimeSpan.FromSeconds(30));
            }
            catch
            {
                await silo.DisposeAsync();
                throw;
            }

            p = p with { Silo = silo };
        }

        var client = connection.Client;
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
            Func<Task<long[]>>? readRounds = silo is null ? null : async () => (await silo.CountersAsync()).Rounds;
            var rpcRounds = new long[RnnConstants.BatcherRoundSizeBuckets.Length];
            for (var r = 0; r < p.Rounds; r++)
            {
                var pingLoad = await Closed(p, Ping);
                var echoLoad = await Closed(p, Echo);
                var before = readRounds is null ? null : await readRounds();
                var rpcLoad = await Closed(p, Rpc);
                if (readRounds is not null)
                {
                    var after = await readRounds();
                    for (var i = 0; i < Math.Min(rpcRounds.Length, after.Length); i++)
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
            results.Add(("rpc_batched_rounds", rpcRounds.Sum(), "rounds", readRounds is null ? "only with a silo bench started" : rpcRounds.Sum() == 0 ? "the step batcher took no element (off, or the model is under --batch-min-bytes)" : $"step batcher rounds during the rpc measurements, by sequences per round: {roundSizes}"));

            var stream = publishOutputs ? await MeasureStreamAsync(client, model, p, run, cancellation) : (Rate: double.NaN, InOrder: true, CpuUs: double.NaN);
            results.Add(("stream_steps_per_s", stream.Rate, "steps/s", $"rnn-in events in, rnn-out events to a subscriber, {p.StreamSequences} sequences, order {(stream.InOrder ? "checked" : "VIOLATED")}"));
            results.Add(("stream_cpu_us", stream.CpuUs, "µs", "process CPU time per element through the streams (client and silo), against rpc_cpu_us per Step"));

            if (silo is not null)
            {
                results.AddRange(await HttpBench.MeasureAsync(client, model, p with { Concurrency = args.GetValue(o.HttpConnections) }, run, silo.HttpPort, silo.H2cPort));
            }

            var pauseBefore = GC.GetTotalPauseDuration();
            var siloPauseBefore = silo is null ? 0 : (await silo.CountersAsync()).PausedSeconds;
            var latencyClock = Stopwatch.StartNew();
            var (p50, p99, offered) = await MeasureLatencyAsync(sequences, next, x, rpc / 2, p);
            var paused = (GC.GetTotalPauseDuration() - pauseBefore).TotalMilliseconds / latencyClock.Elapsed.TotalMilliseconds;
            var siloPaused = silo is null ? double.NaN : ((await silo.CountersAsync()).PausedSeconds - siloPauseBefore) / latencyClock.Elapsed.TotalSeconds;
            results.Add(("p50_ms", p50, "ms", $"Step sent → y_t received, paced at {offered:F0} steps/s (aiming at half of rpc)"));
            results.Add(("p99_ms", p99, "ms", string.Empty));
            results.Add(("gc_paused_percent", paused * 100, "%", "share of the latency measurement the client process spent in GC pauses"));
            if (silo is not null)
            {
                results.Add(("silo_gc_paused_percent", siloPaused * 100, "%", "… and the silo process"));
            }

            // The silo's heap is read through its /debug/heap, which only the silo bench starts serves.
            const string NoHeap = "not measured against --gateway or --redis: it is read from the heap of the silo bench starts";
            var (bytes, storedBytes) = silo is null ? (double.NaN, double.NaN) : await MeasureMemoryAsync(client, silo, model, p, run);
            results.Add(("bytes_per_sequence", bytes, "B", silo is null ? NoHeap : $"the silo's managed heap per active sequence ({p.MemorySequences} activated from storage), weights shared"));
            results.Add(("stored_bytes_per_sequence", storedBytes, "B", silo is null ? NoHeap : "what stays while it is deactivated: the in-memory storage's copy (in Redis in a deployment) and the silo's grown tables"));
            var floor = silo is null ? double.NaN : await MeasureActivationFloorAsync(client, silo, p);
            results.Add(("bytes_per_activation", floor, "B", silo is null ? NoHeap : "the silo's managed heap per activation of an empty grain: Orleans' own floor"));

            stdout.WriteLine($"# bench: {model}, {p.Sequences} sequences, concurrency {p.Concurrency}, {p.Seconds} s per measurement, {(external ? "external cluster" : "silo in its own process")}, gateway client, outputs published {(external ? "as the cluster says" : publishing)}");
            stdout.WriteLine($"{"measure",-20} {"value",14}  {"unit",-8} {"× kernel",9}  note");
            foreach (var (name, value, unit, note) in results)
            {
                var ratio = unit == "steps/s" && name != "kernel_steps_per_s" ? (value / kernel).ToString("F3", CultureInfo.InvariantCulture) : string.Empty;
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-20} {value,14:N1}  {unit,-8} {ratio,9}  {note}"));
            }

            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# rpc/ping={rpcOverPing:F3} (median of {p.Rounds} rounds: {string.Join(", ", rounds.Select(r => (r.Rpc.Rate / r.Ping.Rate).ToString("F3", CultureInfo.InvariantCulture)))}) ping_cpu/rpc_cpu={pingCpu / rpcCpu:F3} batch/kernel={batch / kernel:F3}"));
            var pingAlloc = Median(rounds.Select(r => r.Ping.Bytes));
            var rpcAlloc = Median(rounds.Select(r => r.Rpc.Bytes));
            var defaultShape = p.Hidden == 64 && p.Input == 8 && p.Output == 1 && p.Layers == 1 && cell == CellType.RnnTanh && !float32;
            stdout.WriteLine(Targets(new BenchFigures(defaultShape, rpcRounds.Sum() > 0, rpcOverPing, batch, stream.Rate, stream.InOrder, p99, rpcAlloc, pingAlloc, rpc / kernel)));
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
            json["dtype"] = model.Precision.ToFileName();
            json["sequences"] = p.Sequences;
            json["concurrency"] = p.Concurrency;
            json["batch"] = p.Batch;
            json["seconds"] = p.Seconds;
            json["rounds"] = p.Rounds;
            json["cores"] = Environment.ProcessorCount;
            json["silo"] = external ? "external" : "process";
            json["client"] = "gateway";
            json["outputs"] = external ? "as configured on the cluster" : publishing;
            json["durability"] = external ? "as configured on the cluster" : durability;
            stdout.WriteLine(JsonSerializer.Serialize(json));
            return stream.InOrder ? 0 : 1;
        }
        finally
        {
            await connection.DisposeAsync();
            if (silo is not null)
            {
                await silo.DisposeAsync();
            }
        }
    }
}
