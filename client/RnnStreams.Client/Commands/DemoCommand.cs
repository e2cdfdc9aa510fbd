using System.Diagnostics;
using System.Globalization;

namespace RnnStreams.Client.Commands;

/// <summary>
/// <c>demo [--devices 128] [--steps 200] [--model demo] [--show 4] [--every 20]</c>: streams a synthetic sensor signal
/// per device through one sequence grain each, all devices at once, printing live predictions of a few devices as they
/// arrive on their output streams, then steps, steps/s and the step latency (p50/p99).
/// </summary>
internal static class DemoCommand
{
    public static async Task<int> Run(Arguments args, TextWriter stdout, CancellationToken cancellation)
    {
        var devices = args.Int("devices", 128, 1, 1_000_000);
        var steps = args.Int("steps", 200, 1, 1_000_000);
        var modelName = args.Optional("model") ?? RnnConstants.DemoModel;
        var show = args.Int("show", 4, 0, devices);
        var every = args.Int("every", 20, 1);
        var keep = args.Flag("keep");
        args.RejectUnknown();

        await using var connection = await Connection.OpenAsync(args);
        var client = connection.Client;
        var model = (await client.GetGrain<IModelGrain>(modelName).Get()).Model;
        var run = DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture) + "-" + Random.Shared.Next(1000, 9999).ToString(CultureInfo.InvariantCulture);
        stdout.WriteLine($"# demo: {devices} devices × {steps} elements through model {model} (run {run})");

        var ids = Enumerable.Range(0, devices).Select(i => $"device-{run}-{i:D4}").ToArray();
        var gate = new object();
        var subscriptions = new List<OutputSubscription>();
        for (var i = 0; i < show; i++)
        {
            var id = ids[i];
            var device = i;
            subscriptions.Add(await OutputSubscription.SubscribeAsync(client, id, item =>
            {
                if (item.Kind == OutputKind.Step && (item.N % every == 0 || item.N == 1))
                {
                    var x = Signal(device, item.N, model.InputSize);
                    lock (gate)
                    {
                        stdout.WriteLine($"device-{device:D4}  n={item.N,5}  x={Format(x)}  y={Format(item.Y)}");
                    }
                }

                return ValueTask.CompletedTask;
            }));
        }

        var latencies = new long[devices * (long)steps];
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(ids.Select(async (id, device) =>
        {
            var sequence = client.GetGrain<ISequenceGrain>(id);
            await sequence.Start(new StartRequest(modelName));
            for (var n = 1; n <= steps; n++)
            {
                cancellation.ThrowIfCancellationRequested();
                var started = Stopwatch.GetTimestamp();
                await sequence.Step(n, Signal(device, n, model.InputSize));
                latencies[(device * (long)steps) + n - 1] = Stopwatch.GetTimestamp() - started;
            }
        }));
        clock.Stop();

        var delivered = true;
        foreach (var subscription in subscriptions)
        {
            delivered &= await subscription.WaitAsync(() => subscription.LastStepN >= steps, TimeSpan.FromSeconds(30), cancellation);
        }

        var outOfOrder = subscriptions.Sum(s => s.OutOfOrder);
        foreach (var subscription in subscriptions)
        {
            await subscription.DisposeAsync();
        }

        if (!keep)
        {
            await Task.WhenAll(ids.Select(id => client.GetGrain<ISequenceGrain>(id).End()));
        }

        Array.Sort(latencies);
        var total = devices * (long)steps;
        var seconds = clock.Elapsed.TotalSeconds;
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# done: sequences={devices} steps={total} elapsed_s={seconds:F2} steps_per_s={total / seconds:F0} p50_ms={Millis(latencies, 0.50):F3} p99_ms={Millis(latencies, 0.99):F3} watched_outputs_in_order={(delivered && outOfOrder == 0 ? "yes" : "no")}"));
        return delivered && outOfOrder == 0 ? 0 : 1;
    }

    /// <summary>A device's sensor reading at element n: a sine with a per-device period, phase and level, plus a little noise.</summary>
    internal static double[] Signal(int device, long n, int size)
    {
        var x = new double[size];
        for (var i = 0; i < size; i++)
        {
            var period = 24 + (device % 13) + (3 * i);
            var phase = device * 0.37;
            var noise = (Hash(device, n, i) - 0.5) * 0.1;
            x[i] = (0.8 * Math.Sin((2 * Math.PI * n / period) + phase)) + (0.1 * (device % 5)) + noise;
        }

        return x;
    }

    private static double Hash(int device, long n, int i)
    {
        var h = (ulong)((device * 73856093L) ^ (n * 19349663L) ^ (i * 83492791L));
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        return (h >> 11) * (1.0 / (1UL << 53));
    }

    private static double Millis(long[] sorted, double quantile)
    {
        var index = (int)Math.Min(sorted.Length - 1, Math.Ceiling(quantile * sorted.Length) - 1);
        return sorted[Math.Max(0, index)] * 1000.0 / Stopwatch.Frequency;
    }

    private static string Format(IEnumerable<double> values) =>
        string.Join(' ', values.Select(v => v.ToString("+0.000;-0.000", CultureInfo.InvariantCulture)));
}
