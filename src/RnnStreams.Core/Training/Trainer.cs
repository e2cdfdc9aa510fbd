namespace RnnStreams.Core.Training;

/// <summary>How <see cref="Trainer"/> trains a forecaster of one series.</summary>
public sealed record TrainingOptions
{
    public CellType Cell { get; init; } = CellType.Gru;

    public int Hidden { get; init; } = 32;

    public int Layers { get; init; } = 1;

    /// <summary>Steps per truncated-backpropagation window (the state is carried from window to window).</summary>
    public int Window { get; init; } = 24;

    /// <summary>y_t forecasts the value <c>Horizon</c> steps after x_t.</summary>
    public int Horizon { get; init; } = 1;

    public int Epochs { get; init; } = 100;

    /// <summary>Adam's step size.</summary>
    public double LearningRate { get; init; } = 0.01;

    /// <summary>The share of the series, at its end, held out for validation (never trained on).</summary>
    public double ValidationFraction { get; init; } = 0.2;

    /// <summary>The period of the seasonal-naive forecast the report compares with (12 for monthly data).</summary>
    public int Season { get; init; } = 12;

    /// <summary>The network predicts the change from the current value (the model adds x_t back): default on. Not seasonal.</summary>
    public bool Residual { get; init; } = true;

    /// <summary>Gradients are scaled down to this global norm when longer (0: never).</summary>
    public double ClipNorm { get; init; } = 1.0;

    public int Seed { get; init; } = 1;

    /// <summary>
    /// The network forecasts the seasonal difference from seasonal inputs (<see cref="SeasonalFeatures"/>) instead of
    /// the raw series: default on (needs <see cref="Horizon"/> 1).
    /// </summary>
    public bool Seasonal { get; init; } = true;

    /// <summary>Seasonal: the log of the series when true, the series when false, chosen from the training part when null.</summary>
    public bool? Log { get; init; }

    /// <summary>Seasonal: the target is also first-differenced (D_t − D_{t−1}); default off (measured worse on AirPassengers).</summary>
    public bool FirstDifference { get; init; }

    /// <summary>Seasonal: sin and cos of the position in the season are inputs.</summary>
    public bool Calendar { get; init; } = true;

    /// <summary>
    /// Seasonal: <see cref="Epochs"/> is the most, and the number trained is chosen on the last part of the training values
    /// (the <see cref="ValidationFraction"/> share of them): default on.
    /// </summary>
    public bool SelectEpochs { get; init; } = true;

    /// <summary>Seasonal: networks trained from this many seeds (Seed, Seed + 1, …), averaged into one model (K·H hidden units).</summary>
    public int Ensemble { get; init; } = 5;

    /// <summary>Seasonal: the target one season earlier (T_{t+1−s}, T_{t−s}) is an input.</summary>
    public bool SeasonalLags { get; init; } = true;

    public string Name { get; init; } = "trained";

    /// <summary>Checks every option, naming the bad one.</summary>
    public void Validate()
    {
        Require(Hidden >= 1, "hidden", "at least 1");
        Require(Layers >= 1, "layers", "at least 1");
        Require(Window >= 1, "window", "at least 1");
        Require(Horizon >= 1, "horizon", "at least 1");
        Require(Epochs >= 1, "epochs", "at least 1");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), "learning-rate", "a number above 0");
        Require(ValidationFraction > 0 && ValidationFraction < 1, "validation", "a fraction between 0 and 1");
        Require(Season >= 1, "season", "at least 1");
        Require(ClipNorm >= 0 && double.IsFinite(ClipNorm), "clip", "0 or more");
        Require(ModelNames.IsValidName(Name), "name", "a model name (letters, digits, . _ - : /)");
        Require(!Seasonal || Horizon == 1, "horizon", "1 for a seasonal forecaster (--seasonal off forecasts further)");
        Require(Ensemble >= 1, "ensemble", "at least 1");
        Require(!Seasonal || Season >= 2, "season", "at least 2 for a seasonal forecaster");
    }

    private static void Require(bool ok, string option, string what)
    {
        if (!ok)
        {
            throw new ArgumentException($"--{option} must be {what}", option);
        }
    }
}

/// <summary>Validation errors of the trained model and of the two naive forecasts on the held-out tail.</summary>
public sealed record TrainingReport(
    RnnModel Model,
    IReadOnlyList<double> EpochLosses,
    int TrainCount,
    int ValidationCount,
    double Rmse,
    double Mae,
    double NaiveRmse,
    double NaiveMae,
    double SeasonalRmse,
    double SeasonalMae)
{
    /// <summary>The inputs and target of a seasonal forecaster, which serving must compute per element; null for a model of the raw series.</summary>
    public SeasonalFeatures? Features { get; init; }

    /// <summary>The epochs chosen on the inner validation part of the training values, per member of the ensemble; null when not chosen.</summary>
    public IReadOnlyList<int>? SelectedEpochs { get; init; }
}

/// <summary>
/// Trains a one-series forecaster: x_t is the value at t, y_t forecasts the value at t + horizon. Values are
/// standardised with the training part's mean and deviation (stored in the model's <see cref="Scaling"/>, so serving
/// takes raw values); truncated backpropagation through time over consecutive windows with the state carried between
/// them (as a served sequence carries it), Adam, global-norm clipping. The last part of the series is never trained
/// on: the report compares the model there with the last-value and seasonal-naive forecasts, running the model as a
/// sequence would be run, from h_0 = 0 through the whole series. By default (<see cref="TrainingOptions.Seasonal"/>) the
/// network sees and forecasts <see cref="SeasonalFeatures"/> instead of the raw value (horizon 1), its epochs are
/// chosen on the last part of the training values, and several seeds' networks are averaged into one model.
/// </summary>
public static class Trainer
{
    /// <param name="series">The values, oldest first.</param>
    /// <param name="options">The options.</param>
    /// <param name="progress">Called after each epoch with its number (1-based) and mean training loss.</param>
    public static TrainingReport Train(IReadOnlyList<double> series, TrainingOptions options, Action<int, double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var count = series.Count;
        var validation = (int)Math.Round(count * options.ValidationFraction);
        var train = count - validation;
        var horizon = options.Horizon;
        if (validation < 1 || train - horizon < Math.Max(options.Window, 2))
        {
            throw new ArgumentException(
                $"a series of {count} values leaves {train} for training and {validation} for validation; training needs more than window + horizon ({options.Window} + {horizon}) values and validation at least 1",
                nameof(series));
        }

        foreach (var value in series)
        {
            if (!double.IsFinite(value))
            {
                throw new ArgumentException("every value must be finite", nameof(series));
            }
        }

        if (options.Seasonal)
        {
            return TrainSeasonal(series, train, options, progress);
        }

        var (inputMean, inputStd) = MeanStd(Enumerable.Range(0, train).Select(i => series[i]));
        var targetValues = Enumerable.Range(0, train - horizon).Select(i => series[i + horizon] - (options.Residual ? series[i] : 0));
        var (outputMean, outputStd) = options.Residual ? MeanStd(targetValues) : (inputMean, inputStd);
        var inputs = new double[train - horizon][];
        var targets = new double[train - horizon][];
        for (var i = 0; i < inputs.Length; i++)
        {
            inputs[i] = [(series[i] - inputMean) / inputStd];
            targets[i] = [(series[i + horizon] - (options.Residual ? series[i] : 0) - outputMean) / outputStd];
        }

        var network = new Network(options.Cell, 1, options.Hidden, 1, options.Layers, new Random(options.Seed));
        var losses = Fit(network, inputs, targets, options, progress);
        var scaling = new Scaling([inputMean], [inputStd], [outputMean], [outputStd], options.Residual);
        var model = network.ToModel(options.Name, scaling);
        return Evaluate(model, series, train, horizon, options.Season, losses);
    }

    private static TrainingReport TrainSeasonal(IReadOnlyList<double> series, int train, TrainingOptions options, Action<int, double>? progress)
    {
        var features = new SeasonalFeatures(
            options.Season,
            options.Log ?? (series.All(v => v > 0) && SeasonalFeatures.SuitsLog(series, train, options.Season)),
            options.FirstDifference,
            options.Calendar,
            options.SeasonalLags);
        if (features.Log && series.Any(v => v <= 0))
        {
            throw new ArgumentException("a log transform needs every value above 0", nameof(series));
        }

        var first = features.FirstStep;
        var rows = train - 1 - first; // inputs at t = first … train − 2, targets T_{t+1} up to the last training value
        if (rows < Math.Max(options.Window, 2))
        {
            throw new ArgumentException(
                $"a seasonal forecaster of season {options.Season} needs the first {first} of the {train} training values for its inputs, leaving {rows} steps to train on; it needs more than the window ({options.Window})",
                nameof(series));
        }

        var z = features.Transform(series);
        var width = features.InputSize;
        var raw = new double[rows][];
        var rawTargets = new double[rows];
        for (var i = 0; i < rows; i++)
        {
            raw[i] = new double[width];
            features.Inputs(z, first + i, raw[i]);
            rawTargets[i] = features.Target(z, first + i + 1);
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
        var model = network.ToModel(options.Name, new Scaling(inputMean, inputStd, [outputMean], [outputStd], residual: false));
        return Evaluate(model, features, series, train, losses) with { SelectedEpochs = options.SelectEpochs ? epochs : null };
    }

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

    /// <summary>
    /// Runs a seasonal forecaster over the whole series from h_0 = 0 (from its first step with defined inputs) and scores
    /// its forecasts of the values from <paramref name="firstScored"/> on.
    /// </summary>
    public static TrainingReport Evaluate(RnnModel model, SeasonalFeatures features, IReadOnlyList<double> series, int firstScored, IReadOnlyList<double>? losses = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(series);
        var z = features.Transform(series);
        var state = new double[model.StateSize];
        var x = new double[features.InputSize];
        var y = new double[1];
        var errors = new List<double>();
        var naive = new List<double>();
        var seasonal = new List<double>();
        for (var t = features.FirstStep; t + 1 < series.Count; t++)
        {
            features.Inputs(z, t, x);
            model.Step(x, state, y);
            var target = t + 1;
            if (target < firstScored)
            {
                continue;
            }

            errors.Add(features.Inverse(features.Base(z, t) + y[0]) - series[target]);
            naive.Add(series[t] - series[target]);
            seasonal.Add(series[target - features.Season] - series[target]);
        }

        return new TrainingReport(model, losses ?? [], firstScored, errors.Count, Rmse(errors), Mae(errors), Rmse(naive), Mae(naive), Rmse(seasonal), Mae(seasonal))
        {
            Features = features,
        };
    }

    /// <summary>Truncated backpropagation through time over consecutive windows, the state carried between them; the mean loss per epoch.</summary>
    private static List<double> Fit(Network network, double[][] inputs, double[][] targets, TrainingOptions options, Action<int, double>? progress)
    {
        var adam = new Adam(network.Parameters.Length, options.LearningRate);
        var gradient = new double[network.Parameters.Length];
        var losses = new List<double>();
        for (var epoch = 1; epoch <= options.Epochs; epoch++)
        {
            var state = new double[network.StateSize];
            double total = 0;
            var windows = 0;
            for (var start = 0; start < inputs.Length; start += options.Window)
            {
                var length = Math.Min(options.Window, inputs.Length - start);
                Array.Clear(gradient);
                total += network.Loss(inputs[start..(start + length)], targets[start..(start + length)], state, gradient);
                windows++;
                Clip(gradient, options.ClipNorm);
                adam.Step(network.Parameters, gradient);
            }

            losses.Add(total / windows);
            progress?.Invoke(epoch, total / windows);
        }

        return losses;
    }

    /// <summary>Runs <paramref name="model"/> over the whole series from h_0 = 0 and scores its forecasts of the values from <paramref name="firstScored"/> on.</summary>
    public static TrainingReport Evaluate(RnnModel model, IReadOnlyList<double> series, int firstScored, int horizon, int season, IReadOnlyList<double>? losses = null)
    {
        var state = new double[model.StateSize];
        var y = new double[1];
        var errors = new List<double>();
        var naive = new List<double>();
        var seasonal = new List<double>();
        for (var t = 0; t + horizon < series.Count; t++)
        {
            model.Step([series[t]], state, y);
            var target = t + horizon;
            if (target < firstScored)
            {
                continue;
            }

            errors.Add(y[0] - series[target]);
            naive.Add(series[t] - series[target]);
            if (target - season >= 0)
            {
                seasonal.Add(series[target - season] - series[target]);
            }
        }

        return new TrainingReport(model, losses ?? [], firstScored, errors.Count, Rmse(errors), Mae(errors), Rmse(naive), Mae(naive), Rmse(seasonal), Mae(seasonal));
    }

    private static double Rmse(List<double> errors) => errors.Count == 0 ? double.NaN : Math.Sqrt(errors.Average(e => e * e));

    private static double Mae(List<double> errors) => errors.Count == 0 ? double.NaN : errors.Average(Math.Abs);

    private static (double Mean, double Std) MeanStd(IEnumerable<double> values)
    {
        var list = values.ToList();
        var mean = list.Average();
        var std = Math.Sqrt(list.Average(v => (v - mean) * (v - mean)));
        return (mean, std > 1e-12 ? std : 1);
    }

    private static void Clip(double[] gradient, double maxNorm)
    {
        if (maxNorm <= 0)
        {
            return;
        }

        var norm = Math.Sqrt(gradient.Sum(g => g * g));
        if (norm > maxNorm)
        {
            var factor = maxNorm / norm;
            for (var i = 0; i < gradient.Length; i++)
            {
                gradient[i] *= factor;
            }
        }
    }

    /// <summary>Adam (Kingma and Ba) with bias correction: β1 = 0.9, β2 = 0.999, ε = 1e-8.</summary>
    private sealed class Adam(int size, double learningRate)
    {
        private readonly double[] _m = new double[size];
        private readonly double[] _v = new double[size];
        private int _t;

        public void Step(double[] parameters, double[] gradient)
        {
            _t++;
            var c1 = 1 - Math.Pow(0.9, _t);
            var c2 = 1 - Math.Pow(0.999, _t);
            for (var i = 0; i < parameters.Length; i++)
            {
                _m[i] = (0.9 * _m[i]) + (0.1 * gradient[i]);
                _v[i] = (0.999 * _v[i]) + (0.001 * gradient[i] * gradient[i]);
                parameters[i] -= learningRate * (_m[i] / c1) / (Math.Sqrt(_v[i] / c2) + 1e-8);
            }
        }
    }
}
