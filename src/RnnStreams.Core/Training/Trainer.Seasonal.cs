namespace RnnStreams.Core.Training;

public static partial class Trainer
{
    /// <summary>
    /// A seasonal forecaster (<see cref="Forecaster"/>): the network learns the target from the inputs the forecaster
    /// computes, row t being the inputs at t and the target at t + 1, for t from its first step to the second-last training
    /// value; each seed's epochs chosen on the last part of the rows; the seeds' networks averaged into one.
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
        var distribution = options.Intervals ? ForecastDistribution.Gaussian : ForecastDistribution.None;
        var forecaster = new Forecaster(season, log, options.FirstDifference, options.SeasonalLags, calendar, firstPhase, distribution);

        var first = forecaster.FirstStep;
        var rows = train - 1 - first;
        if (rows < Math.Max(options.Window, 2))
        {
            throw new ArgumentException(
                $"a seasonal forecaster of season {season} needs the first {first} of the {train} training values for its inputs, leaving {rows} steps to train on; it needs more than the window ({options.Window})",
                nameof(series));
        }

        var z = series.Select(forecaster.Transform).ToArray();
        var phase = 0;
        var nextPhases = new int[series.Count];
        for (var t = 0; t < series.Count; t++)
        {
            phase = forecaster.Phase(times is null ? 0 : times[t].Ticks, phase, t == 0);
            nextPhases[t] = (phase + 1) % season;
        }

        var width = forecaster.NetworkInputSize;
        var raw = new double[rows][];
        var rawTargets = new double[rows];
        for (var i = 0; i < rows; i++)
        {
            var t = first + i;
            raw[i] = new double[width];
            forecaster.Inputs(z.AsSpan(t - first, forecaster.Window), nextPhases[t], raw[i]);
            rawTargets[i] = forecaster.Target(z.AsSpan(0, t + 2));
        }

        var inputMean = new double[width];
        var inputStd = new double[width];
        for (var j = 0; j < width; j++)
        {
            (inputMean[j], inputStd[j]) = MeanStd(raw.Select(r => r[j]));
        }

        var (outputMean, outputStd) = MeanStd(rawTargets);
        var inputs = new double[rows][];
        var targets = new double[rows][];
        for (var i = 0; i < rows; i++)
        {
            inputs[i] = [.. raw[i].Select((v, j) => (v - inputMean[j]) / inputStd[j])];
            targets[i] = [(rawTargets[i] - outputMean) / outputStd];
        }

        // Each member of the ensemble has its own seed and its own number of epochs; the model averages them.
        var members = new List<Network>();
        var epochs = new List<int>();
        var calibrations = new List<double>();
        List<double> losses = [];
        for (var m = 0; m < options.Ensemble; m++)
        {
            var member = options with { Seed = options.Seed + m };
            var (memberEpochs, calibration) = options.SelectEpochs ? SelectEpochs(inputs, targets, forecaster, member, m == 0 ? progress : null) : (options.Epochs, 1);
            calibrations.Add(calibration);
            var memberNetwork = NewNetwork(forecaster, member);
            var memberLosses = Fit(memberNetwork, inputs, targets, member with { Epochs = memberEpochs }, options.SelectEpochs || m > 0 ? null : progress);
            losses = m == 0 ? memberLosses : losses;
            members.Add(memberNetwork);
            epochs.Add(memberEpochs);
        }

        var network = members.Count == 1 ? members[0] : Network.Average(members);
        // A Gaussian network's second output is its spread, standardised: the forecaster scales it by the target's deviation.
        var scaling = options.Intervals
            ? new Scaling(inputMean, inputStd, [outputMean, 0], [outputStd, 1], residual: false)
            : new Scaling(inputMean, inputStd, [outputMean], [outputStd], residual: false);
        // The spread's calibration: the members' mean square, measured where each chose its epochs.
        var spreadScale = Math.Sqrt(calibrations.Average(k => k * k));
        var calibrated = new Forecaster(season, log, options.FirstDifference, options.SeasonalLags, calendar, firstPhase, distribution, spreadScale);
        var model = new RnnModel(network.ToModel(options.Name, scaling), calibrated);
        return Evaluate(model, series, train, times: times, losses: losses) with { SelectedEpochs = options.SelectEpochs ? epochs : null };
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
    /// The number of epochs, up to <see cref="TrainingOptions.Epochs"/>, after which a network fitted to the first part of
    /// the training rows forecasts the rest of them best (the squared error of its mean; the same share as the held-out
    /// tail; ties go to fewer epochs), and for a Gaussian network the calibration of its spread there: the root mean square
    /// of the errors in units of its σ (1 when it has no spread).
    /// </summary>
    private static (int Epochs, double Calibration) SelectEpochs(double[][] inputs, double[][] targets, Forecaster forecaster, TrainingOptions options, Action<int, double>? progress)
    {
        var fitRows = inputs.Length - (int)Math.Round(inputs.Length * options.ValidationFraction);
        if (fitRows < Math.Max(options.Window, 2) || fitRows >= inputs.Length)
        {
            throw new ArgumentException(
                $"choosing the epochs holds out the last {inputs.Length - fitRows} of the {inputs.Length} training steps, leaving {fitRows}; it needs more than the window ({options.Window}) and at least 1 to validate (or --select-epochs off)",
                "series");
        }

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
        return (Math.Max(best.Epoch, 1), best.Calibration);
    }
}
