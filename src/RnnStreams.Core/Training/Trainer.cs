namespace RnnStreams.Core.Training;

/// <summary>
/// Trains a one-series forecaster: x_t is the value at t, y_t forecasts the value at t + horizon. Values are
/// standardised with the training part's mean and deviation (stored in the model's <see cref="Scaling"/>, so serving
/// takes raw values); truncated backpropagation through time over consecutive windows with the state carried between
/// them (as a served sequence carries it), Adam, global-norm clipping. The last part of the series is never trained
/// on: the report compares the model there with the last-value and seasonal-naive forecasts, running the model as a
/// sequence would be run, from h_0 = 0 through the whole series. By default (<see cref="TrainingOptions.Seasonal"/>) the
/// network sees and forecasts <see cref="Forecaster"/> instead of the raw value (horizon 1), its epochs are
/// chosen on the last part of the training values, and several seeds' networks are averaged into one model. Either way
/// the model file serves raw values as they come: a forecaster computes its inputs from them (<see cref="Forecaster"/>).
/// </summary>
public static partial class Trainer
{
    /// <param name="series">The values, oldest first.</param>
    /// <param name="options">The options.</param>
    /// <param name="progress">Called after each epoch with its number (1-based) and mean training loss.</param>
    /// <param name="times">Each value's time (UTC), or null: a seasonal forecaster's calendar inputs read them.</param>
    public static TrainingReport Train(IReadOnlyList<double> series, TrainingOptions options, Action<int, double>? progress = null, IReadOnlyList<DateTime>? times = null)
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

        if (times is not null && times.Count != series.Count)
        {
            throw new ArgumentException($"{times.Count} times for {series.Count} values", nameof(times));
        }

        var calendar = SeriesShape.CalendarOf(times);
        var season = options.SeasonFor(calendar);
        if (options.Seasonal)
        {
            return TrainSeasonal(series, times, calendar, season, train, options, progress);
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
        return Evaluate(model, series, train, horizon, season, times, losses);
    }

    /// <summary>Truncated backpropagation through time over consecutive windows, the state carried between them; the mean loss per epoch.</summary>
    private static List<double> Fit(Network network, double[][] inputs, double[][] targets, TrainingOptions options, Action<int, double>? progress) =>
        Fit(network, [(inputs, targets)], options, progress);

    /// <summary>
    /// <see cref="Fit(Network, double[][], double[][], TrainingOptions, Action{int, double}?)"/> over several series
    /// (segments): each epoch visits them in a seeded random order (the given order for one), each from a fresh state, its
    /// windows in order with the state carried between them.
    /// </summary>
    private static List<double> Fit(Network network, IReadOnlyList<(double[][] Inputs, double[][] Targets)> segments, TrainingOptions options, Action<int, double>? progress)
    {
        var adam = new Adam(network.Parameters.Length, options.StepSize);
        var gradient = new double[network.Parameters.Length];
        var losses = new List<double>();
        var order = Enumerable.Range(0, segments.Count).ToArray();
        var shuffle = new Random(options.Seed);
        for (var epoch = 1; epoch <= options.Epochs; epoch++)
        {
            if (order.Length > 1)
            {
                shuffle.Shuffle(order);
            }

            double total = 0;
            var windows = 0;
            foreach (var segment in order)
            {
                var (inputs, targets) = segments[segment];
                var state = new double[network.StateSize];
                for (var start = 0; start < inputs.Length; start += options.Window)
                {
                    var length = Math.Min(options.Window, inputs.Length - start);
                    Array.Clear(gradient);
                    total += network.Loss(inputs[start..(start + length)], targets[start..(start + length)], state, gradient);
                    windows++;
                    Clip(gradient, options.ClipNorm);
                    adam.Step(network.Parameters, gradient);
                }
            }

            losses.Add(total / windows);
            progress?.Invoke(epoch, total / windows);
        }

        return losses;
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
