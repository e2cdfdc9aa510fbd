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
        var firstPhase = calendar == CalendarKind.Position || times is null ? 0 : PhaseOf(calendar, times[0]);
        var forecaster = new Forecaster(season, log, options.FirstDifference, options.SeasonalLags, calendar, firstPhase, ForecastDistribution.None);

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
        List<double> losses = [];
        for (var m = 0; m < options.Ensemble; m++)
        {
            var member = options with { Seed = options.Seed + m };
            var memberEpochs = options.SelectEpochs ? SelectEpochs(inputs, targets, width, member, m == 0 ? progress : null) : options.Epochs;
            var memberNetwork = new Network(options.Cell, width, options.Hidden, 1, options.Layers, new Random(member.Seed));
            var memberLosses = Fit(memberNetwork, inputs, targets, member with { Epochs = memberEpochs }, options.SelectEpochs || m > 0 ? null : progress);
            losses = m == 0 ? memberLosses : losses;
            members.Add(memberNetwork);
            epochs.Add(memberEpochs);
        }

        var network = members.Count == 1 ? members[0] : Network.Average(members);
        var model = new RnnModel(network.ToModel(options.Name, new Scaling(inputMean, inputStd, [outputMean], [outputStd], residual: false)), forecaster);
        return Evaluate(model, series, train, times: times, losses: losses) with { SelectedEpochs = options.SelectEpochs ? epochs : null };
    }

    /// <summary>The position in the season of a time, as a forecaster with <paramref name="calendar"/> reads it.</summary>
    private static int PhaseOf(CalendarKind calendar, DateTime time) =>
        new Forecaster(Forecaster.CycleLength(calendar), false, false, false, calendar, 0, ForecastDistribution.None).Phase(time.Ticks, 0, first: true);

    /// <summary>
    /// The number of epochs, up to <see cref="TrainingOptions.Epochs"/>, after which a network fitted to the first part of
    /// the training rows forecasts the rest of them best (the same share as the held-out tail; ties go to fewer epochs).
    /// </summary>
    private static int SelectEpochs(double[][] inputs, double[][] targets, int width, TrainingOptions options, Action<int, double>? progress)
    {
        var fitRows = inputs.Length - (int)Math.Round(inputs.Length * options.ValidationFraction);
        if (fitRows < Math.Max(options.Window, 2) || fitRows >= inputs.Length)
        {
            throw new ArgumentException(
                $"choosing the epochs holds out the last {inputs.Length - fitRows} of the {inputs.Length} training steps, leaving {fitRows}; it needs more than the window ({options.Window}) and at least 1 to validate (or --select-epochs off)",
                "series");
        }

        var network = new Network(options.Cell, width, options.Hidden, 1, options.Layers, new Random(options.Seed));
        var best = (Epoch: 0, Loss: double.PositiveInfinity);
        Fit(network, inputs[..fitRows], targets[..fitRows], options, (epoch, loss) =>
        {
            var state = new double[network.StateSize];
            network.Loss(inputs[..fitRows], targets[..fitRows], state);
            var validation = network.Loss(inputs[fitRows..], targets[fitRows..], state);
            if (validation < best.Loss)
            {
                best = (epoch, validation);
            }

            progress?.Invoke(epoch, loss);
        });
        return Math.Max(best.Epoch, 1);
    }
}
