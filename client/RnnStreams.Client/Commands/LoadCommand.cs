using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RnnStreams.Client.Load;
using RnnStreams.Core;

namespace RnnStreams.Client.Commands;

/// <summary>
/// <c>load --sequences 1000 --steps 200 [--model M] [--prefix P] [--concurrency C] [--progress FILE] [--checkpoint-every K]
/// [--batch K] [--rate R] [--http URL[,URL…] [--api-key KEY]] [--stop-file FILE]</c>: streams deterministic inputs
/// through many sequences — through the Orleans gateway, or the silos' HTTP API with <c>--http</c> — with retries
/// across silo failures, then checks every acknowledged output and every final state against the offline kernel. With
/// <c>--stop-file</c> every sequence streams until the file exists (the partition test). A <c># stats:</c> line counts
/// answered and refused calls, answers that differ for one element (diverged), the largest rollback and the longest
/// time a sequence went without an element applied (unavailable_ms). The last line is
/// <c>sequences=S steps=N lost=L duplicated=D mismatched=M recovered_after_ms=T</c>; the exit code is 0 only when
/// L, D and M are 0. It is the client half of <c>tests/cluster/kill-test.sh</c> and <c>tests/cluster/soak.sh</c>: with
/// <c>--rate R</c> the elements of all sequences together are paced at R per second; it also prints the answered calls'
/// latency (<c># latency: … p99_ms=…</c>) and the refused calls by kind (<c># refused: total=N Storage=… …</c>).
/// </summary>
internal static class LoadCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var o = new Options();
        var command = new Command("load", "Stream deterministic inputs through many sequences with retries across silo failures, then check every acknowledged output and final state against the offline kernel; exit 0 only when nothing was lost, duplicated or mismatched.")
        {
            o.Sequences, o.Steps, o.Model, o.Prefix, o.Concurrency, o.Progress, o.CheckpointEvery, o.MaxStall, o.Batch, o.Rate, o.StopFile,
            o.Http, o.ApiKey, o.HttpTimeout, o.Mqtt, o.MqttPrefix, o.MqttWait,
        };
        ConnectionOptions.AddTo(command);
        command.SetAction((args, cancellation) => Run(args, o, stdout, stderr, cancellation));
        return command;
    }

    private static async Task<int> Run(ParseResult args, Options o, TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        var sequences = args.GetValue(o.Sequences);
        var stopFile = args.GetValue(o.StopFile); // set: every sequence streams until this file exists (--steps is then a cap)
        var steps = args.GetValue(o.Steps) ?? (stopFile is null ? 200 : 1_000_000);
        var modelName = args.GetValue(o.Model)!;
        var prefix = args.GetValue(o.Prefix) ?? $"load-{DateTime.UtcNow:HHmmss}-{Random.Shared.Next(1000, 9999)}";
        var concurrency = args.GetValue(o.Concurrency) ?? Math.Min(sequences, 1000);
        var progressPath = args.GetValue(o.Progress);
        var checkpointEvery = args.GetValue(o.CheckpointEvery); // set: rollbacks to a checkpoint are expected and checked
        var deadline = TimeSpan.FromSeconds(args.GetValue(o.MaxStall));
        var http = args.GetValue(o.Http);
        var apiKey = args.GetValue(o.ApiKey) ?? Environment.GetEnvironmentVariable("RNN_API_KEY");
        var httpTimeout = TimeSpan.FromSeconds(args.GetValue(o.HttpTimeout));
        var batch = args.GetValue(o.Batch); // elements per call: StepMany (HTTP: the batch endpoint) when > 1
        var rate = args.GetValue(o.Rate); // elements per second over all sequences; 0: as fast as answered
        var mqtt = args.GetValue(o.Mqtt); // host:port: elements through the broker, control through the gateway
        var mqttPrefix = args.GetValue(o.MqttPrefix)!;
        var mqttWait = TimeSpan.FromSeconds(args.GetValue(o.MqttWait));

        await using ILoadTarget target = http is not null
            ? new HttpLoadTarget([.. http.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(u => new Uri(u.EndsWith('/') ? u : u + "/"))], apiKey, httpTimeout)
            : mqtt is not null
                ? await MqttLoadTarget.ConnectAsync(new GrainLoadTarget(await Connection.OpenAsync(args)), mqtt, mqttPrefix, mqttWait, cancellation)
                : new GrainLoadTarget(await Connection.OpenAsync(args));
        var (model, version) = await Resilience.RetryAsync(() => target.GetModelAsync(modelName), target.IsTransient, deadline, cancellation);
        stdout.WriteLine($"# load: {sequences} sequences × {steps} elements ({batch} per call) through {model} v{version} over {target.Description}, prefix {prefix}, concurrency {concurrency}" +
            (rate > 0 ? $", {rate} elements/s" : ""));

        var stats = new LoadStats { Pacer = rate > 0 ? new RatePacer(rate) : null };
        var clock = Stopwatch.StartNew();
        using var progress = progressPath is null ? null : new Timer(_ => WriteProgress(progressPath, stats), null, 200, 200);
        using var gate = new SemaphoreSlim(concurrency);
        await Task.WhenAll(Enumerable.Range(0, sequences).Select(async i =>
        {
            await gate.WaitAsync(cancellation);
            try
            {
                await RunSequence(target, $"{prefix}-{i:D6}", i, modelName, version, model, steps, batch, checkpointEvery, stopFile, stats, deadline, cancellation);
            }
            finally
            {
                gate.Release();
            }
        }));
        clock.Stop();
        if (progressPath is not null)
        {
            WriteProgress(progressPath, stats);
        }

        var total = stopFile is null ? (long)sequences * steps : Interlocked.Read(ref stats.Acked);
        foreach (var report in stats.Reports)
        {
            stdout.WriteLine(report);
        }

        stdout.WriteLine(stats.LatencyLine());
        stdout.WriteLine(stats.RefusedLine());
        var unanswered = 0L;
        if (target is MqttLoadTarget overMqtt)
        {
            stdout.WriteLine(overMqtt.Report());
            unanswered = overMqtt.Unanswered;
        }

        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# steps_per_s={total / clock.Elapsed.TotalSeconds:F0} elapsed_s={clock.Elapsed.TotalSeconds:F1} retries={stats.Retries} replayed={stats.Replayed} rolled_back={stats.RolledBack} bad_rollbacks={stats.BadRollbacks}"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# stats: answered={stats.Acked} refused={stats.Refused} diverged={stats.Diverged} lost={stats.Lost} duplicated={stats.Duplicated} mismatched={stats.Mismatched} rolled_back={stats.RolledBack} max_rollback={stats.MaxRollback} bad_rollbacks={stats.BadRollbacks} unavailable_ms={stats.MaxUnavailableMs} unavailable_over_2s={stats.UnavailableOver2s} max_refusal_ms={stats.MaxRefusalMs}"));
        // Over MQTT an element whose output never came was lost on its way (the broker, a silo's session): it counts as lost
        // although the client published it again and it was applied then.
        var line = $"sequences={sequences} steps={total} lost={stats.Lost + unanswered} duplicated={stats.Duplicated} mismatched={stats.Mismatched + stats.Diverged + stats.BadRollbacks} recovered_after_ms={stats.MaxStallMs}";
        stdout.WriteLine(line);
        return stats.Lost == 0 && unanswered == 0 && stats.Duplicated == 0 && stats.Mismatched == 0 && stats.Diverged == 0 && stats.BadRollbacks == 0 ? 0 : 1;
    }

    private static async Task RunSequence(ILoadTarget target, string id, int index, string modelName, int version, RnnModel model,
        int steps, int batch, int? checkpointEvery, string? stopFile, LoadStats stats, TimeSpan deadline, CancellationToken cancellation)
    {
        // Inputs, expected outputs and answers grow as the sequence goes: with --stop-file it runs until told to stop.
        var expected = new List<double[]>();
        var state = new double[model.StateSize];
        double[] Input(long element) => DemoCommand.Signal(model, index, element);
        double[] Expected(long element)
        {
            while (expected.Count < element)
            {
                var y = new double[model.OutputSize];
                model.Step(Input(expected.Count + 1), state, y);
                expected.Add(y);
            }

            return expected[(int)element - 1];
        }

        var acked = new List<double[]?>();
        long maxAcked = 0;
        long durableAcked = 0;
        var latencies = new List<float>(steps / batch + 1);
        bool Refused(Exception e)
        {
            if (!target.IsTransient(e))
            {
                return false;
            }

            stats.Refuse(target.KindOf(e), TimeSpan.Zero);
            return true;
        }

        await Resilience.RetryAsync(async () =>
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await target.StartAsync(id, modelName, version);
            }
            catch (Exception e) when (target.IsTransient(e))
            {
                stats.Refuse(target.KindOf(e), Stopwatch.GetElapsedTime(started));
                throw;
            }

            return true;
        }, Refused, deadline, cancellation);
        long? lastApplied = null; // unavailability is counted from the first element applied, past activation and warm-up
        long n = 1;
        long last = steps; // the last element to send; with --stop-file it becomes the one before the stop
        while (true)
        {
            if (stopFile is not null && last == steps && File.Exists(stopFile))
            {
                last = n - 1;
            }

            if (n > last)
            {
                // Done, unless a failure after the last answer took the sequence back: then replay from where it stands.
                var final = await Resilience.RetryAsync(SnapshotAsync, target.IsTransient, deadline, cancellation);
                if (final.LastN >= last)
                {
                    if (stopFile is null && final.LastN != last)
                    {
                        Interlocked.Add(ref stats.Duplicated, final.LastN - last);
                    }
                    else if (!final.Hidden.Concat(final.Cell ?? []).SelectMany(h => h).SequenceEqual(StateAt(final.LastN).Take(model.Network.StateSize)))
                    {
                        Interlocked.Increment(ref stats.Mismatched);
                        stats.Report($"# final state of {id} at n={final.LastN} differs from the kernel's");
                    }

                    stats.AddLatencies(latencies);
                    return;
                }

                Rollback(final);
                n = final.LastN + 1;
                continue;
            }

            cancellation.ThrowIfCancellationRequested();
            var count = (int)Math.Min(batch, last - n + 1);
            if (stats.Pacer is { } pacer)
            {
                await pacer.WaitAsync(count, cancellation);
            }

            var attempt = Stopwatch.GetTimestamp();
            try
            {
                if (count == 1)
                {
                    var one = await target.StepAsync(id, n, Input(n));
                    Acknowledge(n, one.Y, one.Duplicate, one.DurableN);
                }
                else
                {
                    var flat = new double[count * model.InputSize];
                    for (var i = 0; i < count; i++)
                    {
                        Input(n + i).CopyTo(flat, i * model.InputSize);
                    }

                    var many = await target.StepManyAsync(id, n, flat);
                    for (var i = 0; i < many.Count; i++)
                    {
                        Acknowledge(many.FirstN + i, many.Output(i), i < many.Duplicates, many.DurableN);
                    }
                }

                latencies.Add((float)Stopwatch.GetElapsedTime(attempt).TotalMilliseconds);
            }
            catch (Exception e) when ((target.IsTransient(e) || target.IsGap(e)) && !cancellation.IsCancellationRequested)
            {
                // A failed call, or a gap: the sequence moved to another silo and came back from stored state.
                Interlocked.Increment(ref stats.Retries);
                stats.Refuse(target.KindOf(e), Stopwatch.GetElapsedTime(attempt));
                var snapshot = await Resilience.RetryAsync(SnapshotAsync, target.IsTransient, deadline, cancellation);
                stats.Stall(Stopwatch.GetElapsedTime(attempt));
                Rollback(snapshot);
                n = snapshot.LastN + 1;
                continue;
            }

            n += count;
        }

        // Where the sequence stands; a failed attempt counts as a refusal too.
        async Task<SequenceSnapshot> SnapshotAsync()
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                return await target.SnapshotAsync(id);
            }
            catch (Exception e) when (target.IsTransient(e))
            {
                stats.Refuse(target.KindOf(e), Stopwatch.GetElapsedTime(started));
                throw;
            }
        }

        // The state after element `element`, from scratch (only for the final check, against the snapshot's h and c: a
        // forecaster's own numbers follow them in the state).
        double[] StateAt(long element)
        {
            var h = new double[model.StateSize];
            var y = new double[model.OutputSize];
            for (long t = 1; t <= element; t++)
            {
                model.Step(Input(t), h, y);
            }

            return h;
        }

        // One acknowledged element: checked against the kernel, and against its first answer when it comes again.
        void Acknowledge(long element, ReadOnlySpan<double> y, bool duplicate, long durableN)
        {
            var t = (int)(element - 1);
            while (acked.Count <= t)
            {
                acked.Add(null);
            }

            if (acked[t] is null)
            {
                acked[t] = y.ToArray();
                if (!y.SequenceEqual(Expected(element)))
                {
                    Interlocked.Increment(ref stats.Mismatched);
                }
            }
            else
            {
                if (!duplicate)
                {
                    // Applied again after being acknowledged: a replay after a checkpoint rollback, or a double application.
                    if (checkpointEvery is null)
                    {
                        Interlocked.Increment(ref stats.Duplicated);
                    }
                    else
                    {
                        Interlocked.Increment(ref stats.Replayed);
                    }
                }

                if (!y.SequenceEqual(acked[t]))
                {
                    // Two answers for one element that differ.
                    Interlocked.Increment(ref stats.Diverged);
                }
            }

            maxAcked = Math.Max(maxAcked, element);
            durableAcked = Math.Max(durableAcked, durableN);
            Interlocked.Increment(ref stats.Acked);
            var now = Stopwatch.GetTimestamp();
            if (lastApplied is { } previous)
            {
                stats.Unavailable(Stopwatch.GetElapsedTime(previous, now));
            }

            lastApplied = now;
        }

        // The sequence stands at snapshot.LastN. Behind the last acknowledged element is a loss under EveryStep; under a
        // checkpoint policy it is expected, but only back to exactly a stored state (LastDurableN == LastN) at or after
        // the last durable element an answer reported, and the elements are then replayed.
        void Rollback(SequenceSnapshot snapshot)
        {
            if (snapshot.LastN >= maxAcked)
            {
                return;
            }

            Interlocked.Add(ref stats.RolledBack, maxAcked - snapshot.LastN);
            stats.Rollback(maxAcked - snapshot.LastN);
            if (checkpointEvery is null)
            {
                Interlocked.Add(ref stats.Lost, maxAcked - snapshot.LastN);
                stats.Report($"# lost: {id} came back at n={snapshot.LastN} after acknowledging n={maxAcked}");
            }
            else if (snapshot.LastN < durableAcked || snapshot.LastDurableN != snapshot.LastN)
            {
                Interlocked.Increment(ref stats.BadRollbacks);
                stats.Report($"# bad rollback: {id} came back at n={snapshot.LastN} (durable {snapshot.LastDurableN}) after acknowledging n={maxAcked} with n={durableAcked} durable");
            }

            // Counted once: from here on the sequence owes us what it applies again.
            maxAcked = snapshot.LastN;
            durableAcked = Math.Min(durableAcked, snapshot.LastN);
        }
    }

    private static void WriteProgress(string path, LoadStats stats)
    {
        try
        {
            File.WriteAllText(path + ".tmp", Interlocked.Read(ref stats.Acked).ToString(CultureInfo.InvariantCulture));
            File.Move(path + ".tmp", path, overwrite: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The options of one command line (each command line gets its own).</summary>
    private sealed class Options
    {
        public Option<int> Sequences { get; } = CliOptions.Int("--sequences", "How many sequences.", 1000, 1, 10_000_000);

        public Option<int?> Steps { get; } = CliOptions.OptionalInt("--steps", "Elements per sequence (default: 200; with --stop-file a cap of 1000000).", 1, 1_000_000);

        public Option<string> Model { get; } = CliOptions.Text("--model", "The model the sequences start on (its latest version).", "NAME", fallback: RnnConstants.DemoModel);

        public Option<string> Prefix { get; } = CliOptions.Text("--prefix", "The sequences' ids are PREFIX-000000, PREFIX-000001, … (default: load-HHmmss-RANDOM).", "PREFIX");

        public Option<int?> Concurrency { get; } = CliOptions.OptionalInt("--concurrency", "Sequences streaming at once (default: --sequences, at most 1000).", 1, 1_000_000);

        public Option<string> Progress { get; } = CliOptions.Text("--progress", "Write the elements answered so far to this file every 200 ms (for the kill test's timing).", "FILE");

        public Option<int?> CheckpointEvery { get; } = CliOptions.OptionalInt("--checkpoint-every", "The silos' checkpoint interval: rollbacks to a checkpoint are then expected, and checked (default: none expected).");

        public Option<int> MaxStall { get; } = CliOptions.Int("--max-stall", "How long one sequence may go without an answer before the load gives up, in seconds.", 120);

        public Option<int> Batch { get; } = CliOptions.Int("--batch", "Elements per call (StepMany; the batch endpoint over HTTP).", 1, 1, 10_000);

        public Option<int> Rate { get; } = CliOptions.Int("--rate", "Elements per second over all sequences together (0: as fast as answered).", 0, 0, 100_000_000);

        public Option<string> StopFile { get; } = CliOptions.Text("--stop-file", "Stream every sequence until this file exists (the partition test), and add a # stats: line.", "FILE");

        public Option<string> Http { get; } = CliOptions.Text("--http", "Go through the silos' HTTP API at these base addresses instead of the gateway; a sequence moves to the next address when its silo fails.", "URL[,URL…]");

        public Option<string> ApiKey { get; } = TransportOptions.ApiKeyOption();

        public Option<int> HttpTimeout { get; } = CliOptions.Int("--http-timeout", "How long one HTTP request may take, in seconds.", 15);

        public Option<string> Mqtt { get; } = TransportOptions.MqttOption("Send the elements through this MQTT broker (models, starts and snapshots through the gateway).");

        public Option<string> MqttPrefix { get; } = TransportOptions.MqttPrefixOption();

        public Option<int> MqttWait { get; } = CliOptions.Int("--mqtt-wait", "How long an element's output may take to come back through the broker before it counts as lost, in seconds.", 90);
    }

    private sealed class LoadStats
    {
        public long Acked;
        public long Retries;
        public long Lost;
        public long Duplicated;
        public long Mismatched;
        public long Replayed;
        public long RolledBack;
        public long BadRollbacks;
        public long Diverged;
        public long Refused;
        public long UnavailableOver2s;
        private long _maxStallTicks;
        private long _maxUnavailableTicks;
        private long _maxRefusalTicks;
        private long _maxRollback;

        public ConcurrentDictionary<string, long> RefusedKinds { get; } = new(StringComparer.Ordinal);

        public long MaxUnavailableMs => (long)TimeSpan.FromTicks(Interlocked.Read(ref _maxUnavailableTicks)).TotalMilliseconds;

        public long MaxRefusalMs => (long)TimeSpan.FromTicks(Interlocked.Read(ref _maxRefusalTicks)).TotalMilliseconds;

        public long MaxRollback => Interlocked.Read(ref _maxRollback);

        /// <summary>The time between two elements of one sequence being applied (the longest is what a producer waited).</summary>
        public void Unavailable(TimeSpan gap)
        {
            if (gap > TimeSpan.FromSeconds(2))
            {
                Interlocked.Increment(ref UnavailableOver2s);
            }

            Max(ref _maxUnavailableTicks, gap.Ticks);
        }

        /// <summary>A call that failed or was refused, by kind, and how long the refusal took to come.</summary>
        public void Refuse(string kind, TimeSpan took)
        {
            Interlocked.Increment(ref Refused);
            RefusedKinds.AddOrUpdate(kind, 1, (_, c) => c + 1);
            Max(ref _maxRefusalTicks, took.Ticks);
        }

        public void Rollback(long elements) => Max(ref _maxRollback, elements);

        private static void Max(ref long field, long value)
        {
            long current;
            while (value > (current = Interlocked.Read(ref field)) && Interlocked.CompareExchange(ref field, value, current) != current)
            {
            }
        }

        private readonly List<float> _latencies = [];

        public ConcurrentQueue<string> Reports { get; } = new();

        /// <summary>Paces the elements of all sequences (<c>--rate</c>); null: unpaced.</summary>
        public RatePacer? Pacer { get; init; }

        /// <summary>A finished sequence's answered-call latencies (ms).</summary>
        public void AddLatencies(List<float> latencies)
        {
            lock (_latencies)
            {
                _latencies.AddRange(latencies);
            }
        }

        /// <summary><c># refused: total=N Kind=N …</c>, kinds by name.</summary>
        public string RefusedLine() =>
            $"# refused: total={RefusedKinds.Values.Sum()}" + string.Concat(RefusedKinds.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $" {p.Key}={p.Value}"));

        /// <summary><c># latency: calls=N p50_ms=X p99_ms=X max_ms=X</c> over answered calls (refused ones are not counted).</summary>
        public string LatencyLine()
        {
            lock (_latencies)
            {
                _latencies.Sort();
                float At(double q) => _latencies.Count == 0 ? 0 : _latencies[Math.Min(_latencies.Count - 1, (int)(q * _latencies.Count))];
                return string.Create(CultureInfo.InvariantCulture,
                    $"# latency: calls={_latencies.Count} p50_ms={At(0.50):F3} p99_ms={At(0.99):F3} p999_ms={At(0.999):F3} max_ms={(_latencies.Count == 0 ? 0 : _latencies[^1]):F3}");
            }
        }

        public void Report(string line)
        {
            if (Reports.Count < 20)
            {
                Reports.Enqueue(line);
            }
        }

        public long MaxStallMs => (long)TimeSpan.FromTicks(Interlocked.Read(ref _maxStallTicks)).TotalMilliseconds;

        public void Stall(TimeSpan stall) => Max(ref _maxStallTicks, stall.Ticks);
    }
}
