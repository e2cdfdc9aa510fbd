using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RnnStreams.Client.Load;
using RnnStreams.Core.Formats;
using RnnStreams.Core.Training;

namespace RnnStreams.Client.Commands;

/// <summary>
/// <c>demo [--devices 128] [--steps N] [--model demo] [--series FILE] [--validation 0.2] [--show 4] [--every 20] [--url URL | --mqtt host:port]</c>:
/// streams a series per device through one sequence each — through the gateway, the HTTP API or an MQTT broker — all
/// devices at once, printing live predictions of a few devices as their outputs arrive, then steps, steps/s and the step latency (p50/p99). A model
/// with one input reads the bundled monthly CO₂ series (the one the demo model was trained on; device d adds d·0.01
/// to it), or with <c>--series</c> another CSV — a long CSV with a sequence or device column gives each device a series of
/// its own (device d the d-th, cycling), as a fleet model serves them — and each element carries its time when the file
/// has times; the demo then scores the forecasts of each series' held-out tail, which training never saw, against the
/// naive forecasts; other models read a synthetic sine per device.
/// </summary>
internal static class DemoCommand
{
    /// <summary>The series bundled with the client: monthly CO₂ at Mauna Loa, 1959–1997 (R's <c>datasets::co2</c>).</summary>
    internal static string BundledSeries => Path.Combine(AppContext.BaseDirectory, "data", "co2_mauna_loa.csv");

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var devices = CliOptions.Int("--devices", "How many devices (sequences) stream at once.", 128, 1, 1_000_000);
        var steps = CliOptions.OptionalInt("--steps", "Elements per device (default: the whole series for a one-input model, else 200).");
        var model = CliOptions.Text("--model", "The model the devices' sequences start on.", "NAME", fallback: RnnConstants.DemoModel);
        var series = CliOptions.Text("--series", "The series a one-input model's devices stream (default: the bundled monthly CO2 series the demo model was trained on); a long CSV with a sequence or device column gives each device its own series.", "FILE");
        var validation = CliOptions.Double("--validation", "The held-out tail of the series whose forecasts are scored, as a fraction (as train's --validation).", 0.2, v => v is > 0 and < 1, "a fraction between 0 and 1");
        var show = CliOptions.Int("--show", "How many devices' predictions to print live.", 4, 0, 1_000_000);
        var every = CliOptions.Int("--every", "Print a shown device's prediction every N elements (and the first).", 20);
        var keep = CliOptions.Flag("--keep", "Keep the devices' sequences when done (default: end them).");
        var command = new Command("demo", "Stream a series per device through the cluster, all devices at once; print live predictions of a few devices, the forecast errors on the held-out tail against the naive forecast, and a summary line (steps/s, latency).")
        {
            devices, steps, model, series, validation, show, every, keep,
        };
        TransportOptions.AddTo(command, "Publish the devices' elements to this MQTT broker and read their outputs there; the model, the starts and the ends go through --url when given, else the gateway.");
        command.SetAction((args, cancellation) =>
        {
            var deviceCount = args.GetValue(devices);
            var shown = args.GetValue(show);
            if (shown > deviceCount)
            {
                throw new CliException($"--show must be a whole number from 0 to {deviceCount} (--devices), got '{shown}'", 2);
            }

            return Run(args, deviceCount, args.GetValue(steps), args.GetValue(model)!, args.GetValue(series) ?? BundledSeries, args.GetValue(validation),
                shown, args.GetValue(every), args.GetValue(keep), stdout, stderr, cancellation);
        });
        return command;
    }

    private static async Task<int> Run(ParseResult args, int devices, int? stepsOption, string modelName, string seriesPath, double validation, int show, int every, bool keep,
        TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        await using var target = await TransportOptions.Read(args).OpenAsync("+", TimeSpan.FromSeconds(60), needsControl: true, cancellation);
        var patience = TimeSpan.FromSeconds(60); // a call refused as rate-limited or unavailable is sent again for this long
        var model = (await Resilience.RetryAsync(() => target.GetModelAsync(modelName), target.IsTransient, patience, cancellation)).Model;
        // A one-input model's devices stream a series each: the file's one series (device d adds d·0.01), or a long CSV's d-th.
        var key = model.InputSize == 1 ? Csv.SeriesColumn(seriesPath) : null;
        var fleet = key is not null;
        IReadOnlyList<FleetSeries>? streams = model.InputSize != 1 ? null
            : key is { } column ? Csv.ReadFleet(seriesPath, column)
            : [new FleetSeries(Path.GetFileName(seriesPath), Csv.ReadSeries(seriesPath), Csv.ReadTimes(seriesPath))];
        FleetSeries StreamOf(int device) => streams![device % streams.Count];
        var shortest = streams?.Min(s => s.Values.Count);
        var steps = stepsOption ?? shortest ?? 200;
        if (shortest is { } length && steps > length)
        {
            throw new CliException($"--steps {steps} is longer than the {(fleet ? "shortest " : string.Empty)}series ({length} values in {seriesPath})", 2);
        }

        double[] Signal(int device, long n) => streams is null ? DemoCommand.Signal(model, device, n)
            : [StreamOf(device).Values[(int)n - 1] + (fleet ? 0 : 0.01 * device)];
        DateTime TimeOf(int device, long n) => streams is not null && StreamOf(device).Times is { } times ? times[(int)n - 1] : default;
        var firstScored = Enumerable.Range(0, devices)
            .Select(d => streams is null ? int.MaxValue : StreamOf(d).Values.Count - (int)Math.Round(StreamOf(d).Values.Count * validation)).ToArray();
        var forecasts = new double[devices][];
        var intervals = new ForecastInterval?[devices][];
        var run = DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture) + "-" + Random.Shared.Next(1000, 9999).ToString(CultureInfo.InvariantCulture);
        stderr.WriteLine($"# demo: {devices} devices × {steps} elements through model {model} over {target.Description} (run {run}){(streams is null ? string.Empty : fleet ? $", each device streaming its own series of {Path.GetFileName(seriesPath)} ({streams.Count} series{(devices > streams.Count ? ", cycled" : string.Empty)})" : $", each device streaming {Path.GetFileName(seriesPath)}")}");

        stderr.WriteLine($"# each line: a device's element n, its reading x_n, and y_n: the model's forecast of the next reading, x_(n+1){(streams is null ? string.Empty : " (scored against it at the end)")}");
        var ids = Enumerable.Range(0, devices).Select(i => $"device-{run}-{i:D4}").ToArray();
        var gate = new object();
        var subscriptions = new List<OutputSubscription>();
        for (var i = 0; i < show; i++)
        {
            var id = ids[i];
            var device = i;
            subscriptions.Add(await OutputSubscription.SubscribeAsync(target, id, item =>
            {
                if (item.Kind == OutputKind.Step && (item.N % every == 0 || item.N == 1))
                {
                    var x = Signal(device, item.N);
                    lock (gate)
                    {
                        var interval = item.Interval is { } i ? string.Create(CultureInfo.InvariantCulture, $"  {i.Level:P0} interval [{i.Lower:F3}, {i.Upper:F3}]") : string.Empty;
                        stdout.WriteLine($"device-{device:D4}  n={item.N,5}  x_n={Format(x)}  y_n (forecast of x_n+1)={Format(item.Y)}{interval}");
                    }
                }

                return ValueTask.CompletedTask;
            }));
        }

        var latencies = new long[devices * (long)steps];
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(ids.Select(async (id, device) =>
        {
            await Resilience.RetryAsync(async () =>
            {
                await target.StartAsync(id, new StartRequest(modelName));
                return true;
            }, target.IsTransient, patience, cancellation);
            var predicted = forecasts[device] = new double[steps];
            var bands = intervals[device] = new ForecastInterval?[steps];
            for (var n = 1; n <= steps; n++)
            {
                cancellation.ThrowIfCancellationRequested();
                var started = Stopwatch.GetTimestamp();
                var element = n;
                var result = await Resilience.RetryAsync(() => target.StepAsync(id, element, Signal(device, element), TimeOf(device, element)), target.IsTransient, patience, cancellation);
                latencies[(device * (long)steps) + n - 1] = Stopwatch.GetTimestamp() - started;
                predicted[n - 1] = result.Y[0];
                bands[n - 1] = result.Interval;
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
            await Task.WhenAll(ids.Select(id => target.EndAsync(id)));
        }

        if (streams is not null && firstScored.Any(first => steps > first))
        {
            // y after element n forecasts element n + 1: scored where n + 1 lies in the held-out tail.
            var model_ = new List<double>();
            var naive = new List<double>();
            var inside = new List<bool>();
            var ratios = new List<double>(); // per device: its model RMSE ÷ its naive RMSE
            for (var device = 0; device < devices; device++)
            {
                var start = model_.Count;
                for (var n = Math.Max(1, firstScored[device]); n < steps; n++)
                {
                    var truth = Signal(device, n + 1)[0];
                    model_.Add(forecasts[device][n - 1] - truth);
                    naive.Add(Signal(device, n)[0] - truth);
                    if (intervals[device][n - 1] is { } band)
                    {
                        inside.Add(truth >= band.Lower && truth <= band.Upper);
                    }
                }

                if (model_.Count > start)
                {
                    ratios.Add(Math.Sqrt(model_[start..].Average(e => e * e) / naive[start..].Average(e => e * e)));
                }
            }

            var rmse = Math.Sqrt(model_.Average(e => e * e));
            var naiveRmse = Math.Sqrt(naive.Average(e => e * e));
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"# forecast: next-value forecasts of {(firstScored.Distinct().Count() == 1 ? $"elements {firstScored[0] + 1}–{steps}" : $"each series' last {validation:P0}")} (the tail training never saw), {model_.Count} in all: model RMSE {rmse:F4}, naive (last value) RMSE {naiveRmse:F4}, ratio {rmse / naiveRmse:F3}: the model {(rmse < naiveRmse ? "beats" : "does not beat")} the naive forecast"));
            if (fleet)
            {
                // Pooled errors weigh the devices by their units; each device's own ratio does not.
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"# per device: model ÷ naive RMSE, geometric mean over the {ratios.Count} devices {Math.Exp(ratios.Average(Math.Log)):F3}; the model beats the naive forecast on {ratios.Count(r => r < 1)} of them"));
            }

            if (inside.Count > 0)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"# intervals: {inside.Count(i => i):N0} of {inside.Count:N0} values ({(double)inside.Count(i => i) / inside.Count:P1}) inside the {intervals.SelectMany(b => b).First(b => b is not null)!.Level:P0} interval of their forecast"));
            }
        }

        Array.Sort(latencies);
        var total = devices * (long)steps;
        var seconds = clock.Elapsed.TotalSeconds;
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# done: sequences={devices} steps={total} elapsed_s={seconds:F2} steps_per_s={total / seconds:F0} p50_ms={Millis(latencies, 0.50):F3} p99_ms={Millis(latencies, 0.99):F3} watched_outputs_in_order={(delivered && outOfOrder == 0 ? "yes" : "no")}"));
        return delivered && outOfOrder == 0 ? 0 : 1;
    }

    /// <summary>
    /// A device's reading at element n for <paramref name="model"/>: for a forecaster (which wants a positive series with a
    /// season) the bundled CO₂ series, cycled, raised by 0.01 per device; else <see cref="Signal(int, long, int)"/>.
    /// </summary>
    internal static double[] Signal(Core.RnnModel model, int device, long n)
    {
        if (model.Forecaster is null)
        {
            return Signal(device, n, model.InputSize);
        }

        var series = s_bundled.Value;
        return [series[(int)((n - 1) % series.Length)] + (0.01 * device)];
    }

    private static readonly Lazy<double[]> s_bundled = new(() => Csv.ReadSeries(BundledSeries));

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
