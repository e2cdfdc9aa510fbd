using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using RnnStreams.Client.Load;
using RnnStreams.Core;

namespace RnnStreams.Client.Commands;

/// <summary>
/// <c>load --sequences 1000 --steps 200 [--model M] [--prefix P] [--concurrency C] [--progress FILE] [--checkpoint-every K]
/// [--batch K] [--rate R] [--http URL[,URL…] [--api-key KEY]]</c>: streams deterministic inputs through many sequences — through the Orleans
/// gateway, or the silos' HTTP API with <c>--http</c> — with retries across silo failures, then checks every
/// acknowledged output and every final state against the offline kernel. The last line is
/// <c>sequences=S steps=N lost=L duplicated=D mismatched=M recovered_after_ms=T</c>; the exit code is 0 only when
/// L, D and M are 0. It is the client half of <c>tests/cluster/kill-test.sh</c> and <c>tests/cluster/soak.sh</c>: with
/// <c>--rate R</c> the elements of all sequences together are paced at R per second; it also prints the answered calls'
/// latency (<c># latency: … p99_ms=…</c>) and the refused calls by kind (<c># refused: total=N Storage=… …</c>).
/// </summary>
internal static class LoadCommand
{
    public static async Task<int> Run(Arguments args, TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        var sequences = args.Int("sequences", 1000, 1, 10_000_000);
        var steps = args.Int("steps", 200, 1, 1_000_000);
        var modelName = args.Optional("model") ?? RnnConstants.DemoModel;
        var prefix = args.Optional("prefix") ?? $"load-{DateTime.UtcNow:HHmmss}-{Random.Shared.Next(1000, 9999)}";
        var concurrency = args.Int("concurrency", Math.Min(sequences, 1000), 1, 1_000_000);
        var progressPath = args.Optional("progress");
        var checkpointEvery = args.OptionalInt("checkpoint-every"); // set: rollbacks to a checkpoint are expected and checked
        var deadline = TimeSpan.FromSeconds(args.Int("max-stall", 120, 1));
        var http = args.Optional("http");
        var apiKey = args.Optional("api-key") ?? Environment.GetEnvironmentVariable("RNN_API_KEY");
        var httpTimeout = TimeSpan.FromSeconds(args.Int("http-timeout", 15, 1));
        var batch = args.Int("batch", 1, 1, 10_000); // elements per call: StepMany (HTTP: the batch endpoint) when > 1
        var rate = args.Int("rate", 0, 0, 100_000_000); // elements per second over all sequences; 0: as fast as answered
        args.RejectUnknown();

        await using ILoadTarget target = http is null
            ? new GrainLoadTarget(await Connection.OpenAsync(args))
            : new HttpLoadTarget([.. http.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(u => new Uri(u.EndsWith('/') ? u : u + "/"))], apiKey, httpTimeout);
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
                await RunSequence(target, $"{prefix}-{i:D6}", i, modelName, version, model, steps, batch, checkpointEvery, stats, deadline, cancellation);
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

        var total = (long)sequences * steps;
        foreach (var report in stats.Reports)
        {
            stdout.WriteLine(report);
        }

        stdout.WriteLine(stats.LatencyLine());
        stdout.WriteLine(stats.RefusedLine());
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# steps_per_s={total / clock.Elapsed.TotalSeconds:F0} elapsed_s={clock.Elapsed.TotalSeconds:F1} retries={stats.Retries} replayed={stats.Replayed} rolled_back={stats.RolledBack} bad_rollbacks={stats.BadRollbacks}"));
        var line = $"sequences={sequences} steps={total} lost={stats.Lost} duplicated={stats.Duplicated} mismatched={stats.Mismatched + stats.BadRollbacks} recovered_after_ms={stats.MaxStallMs}";
        stdout.WriteLine(line);
        return stats.Lost == 0 && stats.Duplicated == 0 && stats.Mismatched == 0 && stats.BadRollbacks == 0 ? 0 : 1;
    }

    private static async Task RunSequence(ILoadTarget target, string id, int index, string modelName, int version, RnnModel model,
        int steps, int batch, int? checkpointEvery, LoadStats stats, TimeSpan deadline, CancellationToken cancellation)
    {
        var inputs = new double[steps][];
        var expected = new double[steps][];
        var state = new double[model.StateSize];
        for (var t = 0; t < steps; t++)
        {
            inputs[t] = DemoCommand.Signal(index, t + 1, model.InputSize);
            expected[t] = new double[model.OutputSize];
            model.Step(inputs[t], state, expected[t]);
        }

        var acked = new double[steps][];
        long maxAcked = 0;
        long durableAcked = 0;
        var latencies = new List<float>(steps / batch + 1);
        bool Refused(Exception e)
        {
            if (!target.IsTransient(e))
            {
                return false;
            }

            stats.Refuse(e);
            return true;
        }

        await Resilience.RetryAsync(async () =>
        {
            await target.StartAsync(id, modelName, version);
            return true;
        }, Refused, deadline, cancellation);
        long n = 1;
        while (true)
        {
            if (n > steps)
            {
                // Done, unless a failure after the last answer took the sequence back: then replay from where it stands.
                var final = await Resilience.RetryAsync(() => target.SnapshotAsync(id), Refused, deadline, cancellation);
                if (final.LastN >= steps)
                {
                    if (final.LastN != steps)
                    {
                        Interlocked.Add(ref stats.Duplicated, final.LastN - steps);
                    }
                    else if (!final.Hidden.Concat(final.Cell ?? []).SelectMany(h => h).SequenceEqual(state))
                    {
                        Interlocked.Increment(ref stats.Mismatched);
                    }

                    stats.AddLatencies(latencies);
                    return;
                }

                Rollback(final);
                n = final.LastN + 1;
                continue;
            }

            cancellation.ThrowIfCancellationRequested();
            var count = (int)Math.Min(batch, steps - n + 1);
            if (stats.Pacer is { } pacer)
            {
                await pacer.WaitAsync(count, cancellation);
            }

            var attempt = Stopwatch.GetTimestamp();
            try
            {
                if (count == 1)
                {
                    var one = await target.StepAsync(id, n, inputs[n - 1]);
                    Acknowledge(n, one.Y, one.Duplicate, one.DurableN);
                }
                else
                {
                    var flat = new double[count * model.InputSize];
                    for (var i = 0; i < count; i++)
                    {
                        inputs[n - 1 + i].CopyTo(flat, i * model.InputSize);
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
                stats.Refuse(e);
                var snapshot = await Resilience.RetryAsync(() => target.SnapshotAsync(id), Refused, deadline, cancellation);
                stats.Stall(Stopwatch.GetElapsedTime(attempt));
                Rollback(snapshot);
                n = snapshot.LastN + 1;
                continue;
            }

            n += count;
        }

        // One acknowledged element: checked against the kernel, and against its first answer when it comes again.
        void Acknowledge(long element, ReadOnlySpan<double> y, bool duplicate, long durableN)
        {
            var t = element - 1;
            if (acked[t] is null)
            {
                acked[t] = y.ToArray();
                if (!y.SequenceEqual(expected[t]))
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
                    Interlocked.Increment(ref stats.Mismatched);
                }
            }

            maxAcked = Math.Max(maxAcked, element);
            durableAcked = Math.Max(durableAcked, durableN);
            Interlocked.Increment(ref stats.Acked);
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
            if (checkpointEvery is null)
            {
                Interlocked.Add(ref stats.Lost, maxAcked - snapshot.LastN);
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
        private long _maxStallTicks;

        private readonly ConcurrentDictionary<string, long> _refused = new(StringComparer.Ordinal);
        private readonly List<float> _latencies = [];

        public ConcurrentQueue<string> Reports { get; } = new();

        /// <summary>Paces the elements of all sequences (<c>--rate</c>); null: unpaced.</summary>
        public RatePacer? Pacer { get; init; }

        /// <summary>A refused or failed call, counted by its kind: the error's kind (<c>Storage</c>, <c>Gap</c>, …) or the exception's type.</summary>
        public void Refuse(Exception e) => _refused.AddOrUpdate(KindOf(e), 1, (_, count) => count + 1);

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
            $"# refused: total={_refused.Values.Sum()}" + string.Concat(_refused.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $" {p.Key}={p.Value}"));

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

        private static string KindOf(Exception e) => e switch
        {
            RnnStreamsException r => r.Kind.ToString(),
            HttpLoadException h => h.Kind,
            _ => e.GetType().Name,
        };

        public void Report(string line)
        {
            if (Reports.Count < 20)
            {
                Reports.Enqueue(line);
            }
        }

        public long MaxStallMs => (long)TimeSpan.FromTicks(Interlocked.Read(ref _maxStallTicks)).TotalMilliseconds;

        public void Stall(TimeSpan stall)
        {
            var ticks = stall.Ticks;
            long current;
            while (ticks > (current = Interlocked.Read(ref _maxStallTicks)) &&
                   Interlocked.CompareExchange(ref _maxStallTicks, ticks, current) != current)
            {
            }
        }
    }
}
