using MathNet.Numerics.Distributions;

namespace RnnStreams.Core.Training;

public static partial class Trainer
{
    /// <summary>
    /// A seasonal forecaster (<see cref="Forecaster"/>): the network learns its targets from the inputs the forecaster
    /// computes, row t being the inputs at t and the targets at t + 1, for t from its first step to the second-last training
    /// value; each seed's epochs are chosen on the last part of the rows (the forecast of z there, the targets combined as
    /// served), and the seeds' networks are averaged into one.
    /// </summary>
    private static TrainingReport TrainSeasonal(
        IReadOnlyList<double> series, IReadOnlyList<DateTime>? times, CalendarKind? timesCalendar, int season, int train, TrainingOptions options, Action<int, double>? progress)
    {
        var log = options.Log ?? (series.All(v => v > 0) && SeriesShape.SuitsLog(series, train, season));
        if (log && series.Any(v => v <= 0))
        {
            throw new ArgumentException("a log transform needs every value above 0", nameof(series));
        }

        var calendar = !options.Calendar ? CalendarKind.None
            : timesCalendar is { } kind && Forecaster.CycleLength(kind) == season ? kind
            : CalendarKind.Position;
        var firstPhase = Forecaster.CycleLength(calendar) > 0 && times is not null ? PhaseOf(calendar, times[0]) : 0;
        var z = series.Select(v => log ? Math.Log(v) : v).ToArray();
        var phases = Phases(new Forecaster(season, false, [ForecastTarget.Seasonal], false, calendar, firstPhase, ForecastDistribution.None), times, series.Count);
        var profile = options.Targets.Contains(ForecastTarget.Profile) ? SeriesShape.SeasonalProfile(z.AsSpan(0, train), phases, season) : null;
        Forecaster Spec(double spreadScale) => new(
            season, log, options.Targets, options.SeasonalLags, calendar, firstPhase,
            options.Intervals ? ForecastDistribution.Gaussian : ForecastDistribution.None, spreadScale, profile);

        var forecaster = Spec(1);
        var rows = Rows(forecaster, z, phases, train, options);

        // Each member of the ensemble has its own seed and its own number of epochs; the model averages them.
        var members = new List<Network>();
        var epochs = new List<int>();
        var calibrations = new List<double>();
        List<double> losses = [];
        for (var m = 0; m < options.Ensemble; m++)
        {
            var member = options with { Seed = options.Seed + m };
            var (memberEpochs, calibration) = options.SelectEpochs ? SelectEpochs(rows, forecaster, member, m == 0 ? progress : null) : (options.Epochs, 1);
            calibrations.Add(calibration);
            var memberNetwork = NewNetwork(forecaster, member);
            var memberLosses = Fit(memberNetwork, rows.Inputs, rows.Targets, member with { Epochs = memberEpochs }, options.SelectEpochs || m > 0 ? null : progress);
            losses = m == 0 ? memberLosses : losses;
            members.Add(memberNetwork);
            epochs.Add(memberEpochs);
        }

        var network = members.Count == 1 ? members[0] : Network.Average(members);

        // The spread's calibration: the members' mean square, measured where each chose its epochs.
        var calibrated = Spec(Math.Sqrt(calibrations.Average(k => k * k)));
        var model = new RnnModel(network.ToModel(options.Name, rows.Scaling(options.Intervals)), calibrated);
        return Evaluate(model, series, train, times: times, losses: losses) with { SelectedEpochs = options.SelectEpochs ? epochs : null };
    }

    /// <summary>
    /// A forecaster's training rows, standardised per input and per target, with what turns the network's outputs back into
    /// forecasts of z: each row's z window and position (for the bases), and z_{t+1} itself.
    /// </summary>
    private sealed record TrainingRows(
        double[][] Inputs, double[][] Targets, double[] InputMean, double[] InputStd, double[] TargetMean, double[] TargetStd, double[][] Windows, int[] RowPhases, double[] Next, int Validation,
        double Scale = 1)
    {
        /// <summary>The model's scaling: inputs standardised; per target its mean and deviation, a Gaussian's spread after each (0 and 1: the forecaster scales it).</summary>
        public Scaling Scaling(bool gaussian) => gaussian
            ? new Scaling(InputMean, InputStd, [.. TargetMean.SelectMany(m => new[] { m, 0 })], [.. TargetStd.SelectMany(s => new[] { s, 1 })], residual: false)
            : new Scaling(InputMean, InputStd, TargetMean, TargetStd, residual: false);
    }

    /// <summary>Each value's position in the season, as a sequence served by <paramref name="counter"/> computes it.</summary>
    private static int[] Phases(Forecaster counter, IReadOnlyList<DateTime>? times, int count)
    {
        var phases = new int[count];
        for (var t = 0; t < count; t++)
        {
            phases[t] = counter.Phase(times is null ? 0 : times[t].Ticks, t == 0 ? 0 : phases[t - 1], t == 0);
        }

        return phases;
    }

    /// <summary>A series' rows before standardisation: the inputs at t and the targets at t + 1, divided by the series' scale.</summary>
    private sealed record RawRows(double[][] Inputs, double[][] Targets, double[][] Windows, int[] RowPhases, double[] Next, int Validation, double Scale);

    /// <summary>The rows for t = first step … train − 2 (inputs at t, targets at t + 1), standardised on all of them.</summary>
    private static TrainingRows Rows(Forecaster forecaster, double[] z, int[] phases, int train, TrainingOptions options) =>
        Standardize([Raw(forecaster, z, phases, train, options)])[0];

    /// <summary>
    /// A series' rows for t = first step … train − 2; with a per-series scale (<see cref="Forecaster.SeriesScale"/>) the
    /// inputs and targets are in units of the scale its first window gives, as serving computes it.
    /// </summary>
    private static RawRows Raw(Forecaster forecaster, double[] z, int[] phases, int train, TrainingOptions options)
    {
        var first = forecaster.FirstStep;
        var count = train - 1 - first;
        var validation = (int)Math.Round(count * options.ValidationFraction);
        if (count < Math.Max(options.Window, 2) || (options.SelectEpochs && (validation < 1 || count - validation < Math.Max(options.Window, 2))))
        {
            throw new ArgumentException(
                $"a seasonal forecaster of season {forecaster.Season} needs the first {first} of the {train} training values for its inputs, leaving {count} steps to train on{(options.SelectEpochs ? $", of which the last {validation} choose the epochs" : string.Empty)}; it needs more than the window ({options.Window}) left to fit",
                "series");
        }

        var scale = forecaster.SeriesScale ? Forecaster.ScaleOf(z.AsSpan(0, forecaster.Window)) : 1;
        var width = forecaster.NetworkInputSize;
        var raw = new double[count][];
        var rawTargets = new double[count][];
        var windows = new double[count][];
        var rowPhases = new int[count];
        var next = new double[count];
        for (var i = 0; i < count; i++)
        {
            var t = first + i;
            raw[i] = new double[width];
            windows[i] = z[(t - first)..(t + 1)];
            rowPhases[i] = phases[t];
            next[i] = z[t + 1];
            forecaster.Inputs(windows[i], phases[t], raw[i], scale);
            rawTargets[i] = [.. forecaster.Targets.Select(target => forecaster.Target(target, z.AsSpan(0, t + 2), phases[t + 1]) / scale)];
        }

        return new RawRows(raw, rawTargets, windows, rowPhases, next, validation, scale);
    }

    /// <summary>Standardises every series' rows with the means and deviations of all of them together (one network's scaling).</summary>
    private static TrainingRows[] Standardize(IReadOnlyList<RawRows> series)
    {
        var width = series[0].Inputs[0].Length;
        var targetCount = series[0].Targets[0].Length;
        var all = series.SelectMany(r => r.Inputs).ToArray();
        var allTargets = series.SelectMany(r => r.Targets).ToArray();
        var inputMean = new double[width];
        var inputStd = new double[width];
        for (var j = 0; j < width; j++)
        {
            (inputMean[j], inputStd[j]) = MeanStd(all.Select(r => r[j]));
        }

        var targetMean = new double[targetCount];
        var targetStd = new double[targetCount];
        for (var c = 0; c < targetCount; c++)
        {
            (targetMean[c], targetStd[c]) = MeanStd(allTargets.Select(r => r[c]));
        }

        return [.. series.Select(r => new TrainingRows(
            [.. r.Inputs.Select(row => row.Select((v, j) => (v - inputMean[j]) / inputStd[j]).ToArray())],
            [.. r.Targets.Select(row => row.Select((v, c) => (v - targetMean[c]) / targetStd[c]).ToArray())],
            inputMean, inputStd, targetMean, targetStd, r.Windows, r.RowPhases, r.Next, r.Validation, r.Scale))];
    }

    /// <summary>
    /// The factor that makes a Gaussian's central intervals hold what they say on the given standardised errors |e|/σ: the
    /// larger of its 80 % and 95 % conformal quantiles' ratios to the normal's (1.28 and 1.96) — so both intervals cover at
    /// least their level on a new element like those, however few they are.
    /// </summary>
    private static double Calibration(List<double> standardised)
    {
        if (standardised.Count == 0)
        {
            return 1;
        }

        var sorted = standardised.Order().ToArray();
        return Math.Max(Conformal(sorted, 0.8) / Normal.InvCDF(0, 1, 0.9), Conformal(sorted, 0.95) / Normal.InvCDF(0, 1, 0.975));
    }

    /// <summary>
    /// Split conformal prediction's quantile of n sorted scores at <paramref name="level"/>: the ⌈(n + 1)·level⌉-th smallest
    /// (the largest when that is past n), so that a new score falls at or below it with probability at least the level.
    /// </summary>
    private static double Conformal(double[] sorted, double level)
    {
        var k = (int)Math.Ceiling((sorted.Length + 1) * level);
        return sorted[Math.Clamp(k, 1, sorted.Length) - 1];
    }

    /// <summary>A forecaster's network with the options' seed: a Gaussian one (a mean and a spread per target) when it gives intervals.</summary>
    private static Network NewNetwork(Forecaster forecaster, TrainingOptions options) =>
        new(options.Cell, forecaster.NetworkInputSize, options.Hidden, forecaster.NetworkOutputSize, options.Layers, new Random(options.Seed))
        {
            Gaussian = forecaster.Distribution == ForecastDistribution.Gaussian,
        };

    /// <summary>The position in the season of a time, as a forecaster with <paramref name="calendar"/> reads it.</summary>
    private static int PhaseOf(CalendarKind calendar, DateTime time) =>
        new Forecaster(Forecaster.CycleLength(calendar), false, [ForecastTarget.Seasonal], false, calendar, 0, ForecastDistribution.None).Phase(time.Ticks, 0, first: true);

    /// <summary>
    /// The number of epochs, up to <see cref="TrainingOptions.Epochs"/>, after which a network fitted to all but the last
    /// <see cref="TrainingRows.Validation"/> rows forecasts z there best (its targets combined as the forecaster serves
    /// them; ties go to fewer epochs), and for a Gaussian network the calibration of the forecast's spread there: the root
    /// mean square of the errors in units of its σ (1 when it has no spread).
    /// </summary>
    private static (int Epochs, double Calibration) SelectEpochs(TrainingRows rows, Forecaster forecaster, TrainingOptions options, Action<int, double>? progress) =>
        SelectEpochs([rows], forecaster, options, progress);

    /// <summary>
    /// <see cref="SelectEpochs(TrainingRows, Forecaster, TrainingOptions, Action{int, double}?)"/> over several series: the
    /// network is fitted to all but the last rows of each and scored on those, each series' errors in units of its scale.
    /// </summary>
    private static (int Epochs, double Calibration) SelectEpochs(IReadOnlyList<TrainingRows> series, Forecaster forecaster, TrainingOptions options, Action<int, double>? progress)
    {
        var network = NewNetwork(forecaster, options);
        var perTarget = forecaster.NetworkOutputSize / forecaster.Targets.Count;
        var unscaled = new double[forecaster.NetworkOutputSize];
        var best = (Epoch: 0, Error: double.PositiveInfinity, Calibration: 1.0);
        var segments = series.Select(r => (r.Inputs[..(r.Inputs.Length - r.Validation)], r.Targets[..(r.Inputs.Length - r.Validation)])).ToArray();
        Fit(network, segments, options, (epoch, loss) =>
        {
            double squared = 0;
            var standardised = new List<double>();
            foreach (var rows in series)
            {
                var fitRows = rows.Inputs.Length - rows.Validation;
                var units = rows.TargetStd.Select(s => s * rows.Scale).ToArray();
                var state = new double[network.StateSize];
                network.Outputs(rows.Inputs[..fitRows], state);
                var outputs = network.Outputs(rows.Inputs[fitRows..], state);
                for (var i = 0; i < outputs.Length; i++)
                {
                    var row = fitRows + i;
                    for (var c = 0; c < units.Length; c++)
                    {
                        unscaled[c * perTarget] = ((outputs[i][c * perTarget] * rows.TargetStd[c]) + rows.TargetMean[c]) * rows.Scale;
                        if (perTarget == 2)
                        {
                            unscaled[(c * perTarget) + 1] = outputs[i][(c * perTarget) + 1];
                        }
                    }

                    var (centre, sigma) = forecaster.Combine(rows.Windows[row], rows.RowPhases[row], unscaled, units);
                    var error = (centre - rows.Next[row]) / rows.Scale;
                    squared += error * error;
                    if (sigma > 0)
                    {
                        standardised.Add(Math.Abs(error) * rows.Scale / sigma);
                    }
                }
            }

            if (squared < best.Error)
            {
                best = (epoch, squared, network.Gaussian ? Calibration(standardised) : 1);
            }

            progress?.Invoke(epoch, loss);
        });
        return (Math.Max(best.Epoch, 1), best.Calibration);
    }
}
