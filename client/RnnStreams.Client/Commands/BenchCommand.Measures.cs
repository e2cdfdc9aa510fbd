using System.Diagnostics;
using System.Globalization;
using RnnStreams.Core;

namespace RnnStreams.Client.Commands;

/// <summary><c>bench</c>'s measurements of the kernel, the output stream, latency and the batcher's rounds.</summary>
internal static partial class BenchCommand
{
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

            var low = i == 0 ? 1 : RnnConstants.BatcherRoundSizeBuckets[i - 1] + 1;
            var high = RnnConstants.BatcherRoundSizeBuckets[i];
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
            var float32 = model.Precision == ModelPrecision.Float32;
            var states = new double[float32 ? 0 : perThread * model.StateSize];
            var states32 = new float[float32 ? perThread * model.StateSize : 0];
            var x = Enumerable.Range(0, model.InputSize).Select(i => Math.Sin(i)).ToArray();
            var y = new double[model.OutputSize];
            long steps = 0;
            while (stop.Elapsed < duration)
            {
                for (var s = 0; s < perThread; s++)
                {
                    if (float32)
                    {
                        model.Step(x, states32.AsSpan(s * model.StateSize, model.StateSize), y);
                    }
                    else
                    {
                        model.Step(x, states.AsSpan(s * model.StateSize, model.StateSize), y);
                    }
                }

                steps += perThread;
            }

            Interlocked.Add(ref total, steps);
        });
        return total / stop.Elapsed.TotalSeconds;
    }

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

    /// <summary>Inputs as batched rnn-in events, outputs counted and order-checked by one subscriber per sequence.</summary>
    private static async Task<(double Rate, bool InOrder, double CpuUs)> MeasureStreamAsync(IClusterClient client, RnnModel model, BenchParameters p, string run, CancellationToken cancellation)
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
        var cpu = Cpu(p.Silo);
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
        var cpuUs = (Cpu(p.Silo) - cpu).TotalMicroseconds / Math.Max(1, Interlocked.Read(ref total));
        foreach (var subscription in subscriptions)
        {
            await subscription.DisposeAsync();
        }

        return (rate, Interlocked.Read(ref outOfOrder) == 0 && Interlocked.Read(ref total) == sent.Sum(), cpuUs);
    }
}
