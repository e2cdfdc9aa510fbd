using System.Diagnostics;

namespace RnnStreams.Client.Commands;

/// <summary>How <c>bench</c> loads a target: closed loops, paced loops, medians, and its parameters.</summary>
internal static partial class BenchCommand
{
    /// <summary>
    /// C workers, each owning sequences i ≡ w (mod C), call back to back for the measurement time. Besides the rate it
    /// reports CPU time and managed allocation per call of client and silo together (this process plus, when bench started
    /// the silo, the silo's, read from outside it): figures that a machine whose speed drifts from minute to minute
    /// disturbs far less than the rate.
    /// </summary>
    internal static async Task<Load> Closed(BenchParameters p, Func<int, Task> call)
    {
        long total = 0;
        var duration = TimeSpan.FromSeconds(p.Seconds);
        var silo = p.Silo;
        var siloBefore = silo is null ? default : await silo.CountersAsync();
        var cpu = Cpu(silo);
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
        var cpuUs = (Cpu(silo) - cpu).TotalMicroseconds;
        var bytes = (double)(GC.GetTotalAllocatedBytes() - allocated);
        if (silo is not null)
        {
            bytes += (await silo.CountersAsync()).AllocatedBytes - siloBefore.AllocatedBytes;
        }

        return new Load(total / elapsed, cpuUs / total, bytes / total);
    }

    /// <summary>CPU time used so far by this process and, with a silo bench started, the silo's.</summary>
    internal static TimeSpan Cpu(BenchSilo? silo) => Process.GetCurrentProcess().TotalProcessorTime + (silo?.Cpu() ?? TimeSpan.Zero);

    /// <summary>A closed-loop measurement: calls per second, process CPU µs per call, managed bytes allocated per call.</summary>
    internal sealed record Load(double Rate, double CpuUs, double Bytes);

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
        int Concurrency, int Batch, int StreamSequences, int MemorySequences)
    {
        /// <summary>The silo bench started (none against --gateway or --redis), whose CPU and allocations count with the client's.</summary>
        public BenchSilo? Silo { get; init; }
    }
}
