namespace RnnStreams.Core.Training;

public static partial class Trainer
{
    /// <summary>The targets <see cref="TrainingOptions.Target"/> null chooses among, on the inner validation part.</summary>
    private static readonly ForecastTarget[] Candidates = [ForecastTarget.Seasonal, ForecastTarget.SeasonalChange, ForecastTarget.Profile];

    /// <summary>
    /// A seasonal forecaster (<see cref="Forecaster"/>): the network learns the target from the inputs the forecaster
    /// computes, row t being the inputs at t and the target at t + 1, for t from its first step to the second-last training
    /// value. Without a given target each candidate is fitted (one seed) to the first part of the training values and
    /// scored on the rest (the last <see cref="TrainingOptions.ValidationFraction"/> of them), in z's units; the best one
    /// is trained on all the training values, each seed's epochs chosen on that inner split, the seeds' networks averaged.
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
        var data = new SeriesData(
            [.. series.Select(v => log ? Math.Log(v) : v)],
            Phases(new Forecaster(season, false, false, false, calendar, firstPhase, ForecastDistribution.None), times, series.Count),
            train,
            // The inner validation part: the last share of the training values, the same for every candidate.
            (int)Math.Round((train - 1 - Spec(ForecastTarget.Seasonal, null).FirstStep) * options.ValidationFraction));

        Forecaster Spec(ForecastTarget target, double[]? profile, double spreadScale = 1) => new(
            season, log, target == ForecastTarget.SeasonalChange, options.SeasonalLags, calendar, firstPhase,
            options.Intervals ? ForecastDistribution.Gaussian : ForecastDistribution.None, spreadScale, profile);

        // A profile is estimated on the values the network is fitted to: for a candidate, the inner fit part only.
        double[]? ProfileFor(ForecastTarget target, int end) =>
            target == ForecastTarget.Profile ? SeriesShape.SeasonalProfile(data.Z.AsSpan(0, end), data.Phases, season) : null;

        IReadOnlyList<TargetScore>? scores = null;
        var chosen = options.Target ?? ForecastTarget.Seasonal;
        if (options.Target is null)
        {
            scores = [.. Candidates.Select(candidate =>
            {
                var rows = Rows(Spec(candidate, ProfileFor(candidate, train - data.Validation)), data, options);
                var selection = SelectEpochs(rows, Spec(candidate, null), options, null);
                return new TargetScore(candidate, Math.Sqrt(selection.ValidationError) * rows.TargetStd);
            })];
            chosen = scores.MinBy(s => s.Rmse)!.Target;
        }

        var profile = ProfileFor(chosen, train);
        var forecaster = Spec(chosen, profile);
        var prepared = Rows(forecaster, data, options);

        // Each member of the ensemble has its own seed and its own number of epochs; the model averages them.
        var members = new List<Network>();
        var epochs = new List<int>();
        var calibrations = new List<double>();
        List<double> losses = [];
        for (var m = 0; m < options.Ensemble; m++)
        {
            var member = options with { Seed = options.Seed + m };
            var (memberEpochs, calibration, _) = options.SelectEpochs ? SelectEpochs(prepared, forecaster, member, m == 0 ? progress : null) : (options.Epochs, 1, 0);
            calibrations.Add(calibration);
            var memberNetwork = NewNetwork(forecaster, member);
            var memberLosses = Fit(memberNetwork, prepared.Inputs, prepared.Targets, member with { Epochs = memberEpochs }, options.SelectEpochs || m > 0 ? null : progress);
            losses = m == 0 ? memberLosses : losses;
            members.Add(memberNetwork);
            epochs.Add(memberEpochs);
        }

        var network = members.Count == 1 ? members[0] : Network.Average(members);

        // A Gaussian network's second output is its spread, standardised: the forecaster scales it by the target's deviation,
        // and by the calibration measured where each member chose its epochs (their mean square).
        var scaling = options.Intervals
            ? new Scaling(prepared.InputMean, prepared.InputStd, [prepared.TargetMean, 0], [prepared.TargetStd, 1], residual: false)
            : new Scaling(prepared.InputMean, prepared.InputStd, [prepared.TargetMean], [prepared.TargetStd], residual: false);
        var calibrated = Spec(chosen, profile, Math.Sqrt(calibrations.Average(k => k * k)));
        var model = new RnnModel(network.ToModel(options.Name, scaling), calibrated);
        return Evaluate(model, series, train, times: times, losses: losses) with
        {
            SelectedEpochs = options.SelectEpochs ? epochs : null,
            TargetScores = scores,
        };
    }

    /// <summary>The series as a forecaster sees it: z, each value's position in the season, the training count, the inner validation count.</summary>
    private sealed record SeriesData(double[] Z, int[] Phases, int Train, int Validation);

    /// <summary>A forecaster's training rows, standardised, and the means and deviations that did it.</summary>
    private sealed record TrainingRows(double[][] Inputs, double[][] Targets, double[] InputMean, double[] InputStd, double TargetMean, double TargetStd, int Validation);

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

    /// <summary>The rows for t = first step … train − 2 (inputs at t, target at t + 1), standardised on all of them.</summary>
    private static TrainingRows Rows(Forecaster forecaster, SeriesData data, TrainingOptions options)
    {
        var first = forecaster.FirstStep;
        var rows = data.Train - 1 - first;
        if (rows < Math.Max(options.Window, 2) || rows - data.Validation < Math.Max(options.Window, 2))
        {
            throw new ArgumentException(
                $"a seasonal forecaster of season {forecaster.Season} needs the first {first} of the {data.Train} training values for its inputs, leaving {rows} steps to train on, of which the last {data.Validation} choose the epochs; it needs more than the window ({options.Window}) left to fit",
                "series");
        }

        var width = forecaster.NetworkInputSize;
        var raw = new double[rows][];
        var rawTargets = new double[rows];
        for (var i = 0; i < rows; i++)
        {
            var t = first + i;
            raw[i] = new double[width];
            forecaster.Inputs(data.Z.AsSpan(t - first, forecaster.Window), data.Phases[t], raw[i]);
            rawTargets[i] = forecaster.Target(data.Z.AsSpan(0, t + 2), data.Phases[t + 1]);
        }

        var inputMean = new double[width];
        var inputStd = new double[width];
        for (var j = 0; j < width; j++)
        {
            (inputMean[j], inputStd[j]) = MeanStd(raw.Select(r => r[j]));
        }

        var (targetMean, targetStd) = MeanStd(rawTargets);
        var inputs = new double[rows][];
        var targets = new double[rows][];
        for (var i = 0; i < rows; i++)
        {
            inputs[i] = [.. raw[i].Select((v, j) => (v - inputMean[j]) / inputStd[j])];
            targets[i] = [(rawTargets[i] - targetMean) / targetStd];
        }

        return new TrainingRows(inputs, targets, inputMean, inputStd, targetMean, targetStd, data.Validation);
    }

    /// <summary>A forecaster's network with the options' seed: a Gaussian one (mean and spread) when it gives intervals.</summary>
    private static Network NewNetwork(Forecaster forecaster, TrainingOptions options) =>
        new(options.Cell, forecaster.NetworkInputSize, options.Hidden, forecaster.NetworkOutputSize, options.Layers, new Random(options.Seed))
        {
            Gaussian = forecaster.Distribution == ForecastDistribution.Gaussian,
        };

    /// <summary>The position in the season of a time, as a forecaster with <paramref name="calendar"/> reads it.</summary>
    private static int PhaseOf(CalendarKind calendar, DateTime time) =>
        new Forecaster(Forecaster.CycleLength(calendar), false, false, false, calendar, 0, ForecastDistribution.None).Phase(time.Ticks, 0, first: true);

    /// <summary>
    /// The number of epochs, up to <see cref="TrainingOptions.Epochs"/>, after which a network fitted to all but the last
    /// <see cref="TrainingRows.Validation"/> rows forecasts those best (the mean squared error of its mean, standardised;
    /// ties go to fewer epochs), that error, and for a Gaussian network the calibration of its spread there: the root mean
    /// square of the errors in units of its σ (1 when it has no spread).
    /// </summary>
    private static (int Epochs, double Calibration, double ValidationError) SelectEpochs(TrainingRows rows, Forecaster forecaster, TrainingOptions options, Action<int, double>? progress)
    {
        var fitRows = rows.Inputs.Length - rows.Validation;
        if (rows.Validation < 1)
        {
            throw new ArgumentException("choosing the epochs needs at least 1 training step to validate on (or --select-epochs off)", "series");
        }

        var (inputs, targets) = (rows.Inputs, rows.Targets);
        var network = NewNetwork(forecaster, options);
        var best = (Epoch: 0, Error: double.PositiveInfinity, Calibration: 1.0);
        Fit(network, inputs[..fitRows], targets[..fitRows], options, (epoch, loss) =>
        {
            var state = new double[network.StateSize];
            network.Outputs(inputs[..fitRows], state);
            var outputs = network.Outputs(inputs[fitRows..], state);
            double squared = 0, standardised = 0;
            for (var i = 0; i < outputs.Length; i++)
            {
                var error = outputs[i][0] - targets[fitRows + i][0];
                squared += error * error;
                if (network.Gaussian)
                {
                    var sigma = Math.Max(Forecaster.Softplus(outputs[i][1]), 1e-6);
                    standardised += error * error / (sigma * sigma);
                }
            }

            if (squared < best.Error)
            {
                best = (epoch, squared, network.Gaussian ? Math.Sqrt(standardised / outputs.Length) : 1);
            }

            progress?.Invoke(epoch, loss);
        });
        return (Math.Max(best.Epoch, 1), best.Calibration, best.Error / rows.Validation);
    }
}
