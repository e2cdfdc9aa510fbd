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

    /// <summary>The network predicts the change from the current value (the model adds x_t back): default on.</summary>
    public bool Residual { get; init; } = true;

    /// <summary>Gradients are scaled down to this global norm when longer (0: never).</summary>
    public double ClipNorm { get; init; } = 1.0;

    public int Seed { get; init; } = 1;

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
    double SeasonalMae);

/// <summary>
/// Trains a one-series forecaster: x_t is the value at t, y_t forecasts the value at t + horizon. Values are
/// standardised with the training part's mean and deviation (stored in the model's <see cref="Scaling"/>, so serving
/// takes raw values); truncated backpropagation through time over consecutive windows with the state carried between
/// them (as a served sequence carries it), Adam, global-norm clipping. The last part of the series is never trained
/// on: the report compares the model there with the last-value and seasonal-naive forecasts, running the model as a
/// sequence would be run, from h_0 = 0 through the whole series.
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

        var scaling = new Scaling([inputMean], [inputStd], [outputMean], [outputStd], options.Residual);
        var model = network.ToModel(options.Name, scaling);
        return Evaluate(model, series, train, horizon, options.Season, losses);
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
