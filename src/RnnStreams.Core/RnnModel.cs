using System.Numerics;

namespace RnnStreams.Core;

/// <summary>
/// An immutable, validated recurrent model: stacked Elman, GRU or LSTM layers and an output head
/// <c>y_t = head(W_hy h_t + b_y)</c> read from the last layer. All weights live in contiguous row-major arrays,
/// shared by every time step and every sequence that uses the model.
/// </summary>
/// <remarks>
/// The state of a sequence is one flat array of <see cref="StateSize"/> numbers: the h of layer 0, then layer 1, …;
/// an LSTM's cell states follow, c of layer 0 at <see cref="CellStateOffset"/>, then layer 1, …
/// A <see cref="ModelPrecision.Float64"/> model's state is doubles, a <see cref="ModelPrecision.Float32"/> model's floats:
/// each has its overloads of the stepping methods, and the other's throw <see cref="InvalidOperationException"/>.
/// </remarks>
public sealed partial class RnnModel
{
    private readonly RnnLayer[] _layers;
    private readonly double[] _why;
    private readonly double[] _by;

    /// <summary>The kernel's copy of the weights of a float64 model; null for a float32 one.</summary>
    private readonly ModelWeights<double>? _weights64;

    /// <summary>The kernel's copy of the weights of a float32 model; null for a float64 one.</summary>
    private readonly ModelWeights<float>? _weights32;

    /// <summary>A forecaster's network (the layers, head and scaling it steps); null for a plain model.</summary>
    private readonly RnnModel? _network;

    /// <summary>
    /// Builds and validates a model. Arrays are copied; the model never changes afterwards. Its precision is its layers'
    /// (<see cref="RnnLayer.Precision"/>, the same for all); a float32 model rounds <paramref name="why"/> and
    /// <paramref name="by"/> to float too. <paramref name="scaling"/> stays double: it applies to x and y, which are doubles.
    /// </summary>
    /// <exception cref="ModelValidationException">A size, a shape or a number is wrong; the message names the field.</exception>
    public RnnModel(
        string name,
        CellType cell,
        OutputHead output,
        int inputSize,
        int hiddenSize,
        int outputSize,
        IReadOnlyList<RnnLayer> layers,
        ReadOnlySpan<double> why,
        ReadOnlySpan<double> by,
        Scaling? scaling = null)
    {
        if (!ModelNames.IsValidName(name))
        {
            throw new ModelValidationException("name", $"'{name}' is not a valid model name (1–128 letters, digits or . _ - : /)");
        }

        if (!Enum.IsDefined(cell))
        {
            throw new ModelValidationException("cell", $"unknown cell {cell}");
        }

        if (!Enum.IsDefined(output))
        {
            throw new ModelValidationException("output", $"unknown output {output}");
        }

        if (inputSize < 1)
        {
            throw new ModelValidationException("inputSize", $"must be at least 1, got {inputSize}");
        }

        if (hiddenSize < 1)
        {
            throw new ModelValidationException("hiddenSize", $"must be at least 1, got {hiddenSize}");
        }

        if (outputSize < 1)
        {
            throw new ModelValidationException("outputSize", $"must be at least 1, got {outputSize}");
        }

        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0)
        {
            throw new ModelValidationException("layers", "a model needs at least one layer");
        }

        var precision = layers[0]?.Precision ?? ModelPrecision.Float64;
        for (var k = 0; k < layers.Count; k++)
        {
            var layer = layers[k] ?? throw new ModelValidationException($"layers[{k}]", "missing layer");
            if (layer.Precision != precision)
            {
                throw new ModelValidationException($"layers[{k}]", $"a {layer.Precision.ToFileName()} layer in a {precision.ToFileName()} model");
            }

            var weights = cell.IsGated() ? "W_ih" : "W_xh";
            if (layer.Cell.IsGated() != cell.IsGated() || (cell.IsGated() && layer.Cell != cell))
            {
                throw new ModelValidationException($"layers[{k}]", $"a {layer.Cell.ToFileName()} layer in a {cell.ToFileName()} model");
            }

            var expectedInput = k == 0 ? inputSize : hiddenSize;
            if (layer.InputSize != expectedInput || layer.HiddenSize != hiddenSize)
            {
                var gates = cell.Gates() == 1 ? string.Empty : $"{cell.Gates()}·";
                throw new ModelValidationException(
                    $"layers[{k}].{weights}",
                    $"expected {gates}{hiddenSize}×{expectedInput} ({gates}hiddenSize × {(k == 0 ? "inputSize" : "hiddenSize")}), got {gates}{layer.HiddenSize}×{layer.InputSize}");
            }
        }

        RnnLayer.Check(why, (long)outputSize * hiddenSize, "W_hy", $"{outputSize}×{hiddenSize} (outputSize × hiddenSize)");
        RnnLayer.Check(by, outputSize, "b_y", $"{outputSize} (outputSize)");

        if (scaling is not null)
        {
            if (scaling.InputMean.Length != inputSize)
            {
                throw new ModelValidationException("scaling.inputMean", $"expected {inputSize} numbers (inputSize), got {scaling.InputMean.Length}");
            }

            if (scaling.OutputMean.Length != outputSize)
            {
                throw new ModelValidationException("scaling.outputMean", $"expected {outputSize} numbers (outputSize), got {scaling.OutputMean.Length}");
            }

            if (scaling.Residual && outputSize != inputSize)
            {
                throw new ModelValidationException("scaling.residual", $"a residual model adds x_t to y_t, so outputSize must equal inputSize ({outputSize} ≠ {inputSize})");
            }

            if (output != OutputHead.Linear)
            {
                throw new ModelValidationException("scaling", $"output scaling applies to a linear head, not {output.ToFileName()}");
            }
        }

        Name = name;
        Cell = cell;
        Output = output;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        OutputSize = outputSize;
        Scaling = scaling;
        Precision = precision;
        _layers = [.. layers];
        _why = RnnLayer.Copy(why, precision, "W_hy");
        _by = RnnLayer.Copy(by, precision, "b_y");
        if (precision == ModelPrecision.Float32)
        {
            _weights32 = KernelCopy<float>();
        }
        else
        {
            _weights64 = KernelCopy<double>();
        }

        StateSize = (cell == CellType.Lstm ? 2 : 1) * _layers.Length * hiddenSize;
    }

    /// <summary>
    /// A forecaster of one raw series around <paramref name="network"/>: x_t is one value (and optionally its time),
    /// y_t the forecast of the next value; the sequence's state is the network's, then the forecaster's
    /// (<see cref="Core.Forecaster"/>). Shares the network's arrays.
    /// </summary>
    /// <exception cref="ModelValidationException">The network does not fit the forecaster; the message names the field.</exception>
    public RnnModel(RnnModel network, Forecaster forecaster)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(forecaster);
        if (network.Forecaster is not null)
        {
            throw new ModelValidationException("forecaster", "the network is a forecaster already");
        }

        if (network.Precision != ModelPrecision.Float64)
        {
            throw new ModelValidationException("dtype", "a forecaster's network is float64");
        }

        if (network.Output != OutputHead.Linear)
        {
            throw new ModelValidationException("output", $"a forecaster's network has a linear head, not {network.Output.ToFileName()}");
        }

        if (network.InputSize != forecaster.NetworkInputSize)
        {
            throw new ModelValidationException("inputSize", $"this forecaster's network reads {forecaster.NetworkInputSize} numbers per element, not {network.InputSize}");
        }

        if (network.OutputSize != forecaster.NetworkOutputSize)
        {
            throw new ModelValidationException("outputSize", $"this forecaster's network gives {forecaster.NetworkOutputSize} numbers per element, not {network.OutputSize}");
        }

        if (network.Scaling is { Residual: true })
        {
            throw new ModelValidationException("scaling.residual", "a forecaster's network forecasts its target, not a change of its input");
        }

        _network = network;
        Forecaster = forecaster;
        Name = network.Name;
        Cell = network.Cell;
        Output = OutputHead.Linear;
        InputSize = 1;
        HiddenSize = network.HiddenSize;
        OutputSize = 1;
        Scaling = network.Scaling;
        Precision = network.Precision;
        _layers = network._layers;
        _why = network._why;
        _by = network._by;
        StateSize = network.StateSize + forecaster.StateSize;
    }

    private RnnModel(RnnModel source, string name)
    {
        Name = name;
        Cell = source.Cell;
        Output = source.Output;
        InputSize = source.InputSize;
        HiddenSize = source.HiddenSize;
        OutputSize = source.OutputSize;
        Scaling = source.Scaling;
        Precision = source.Precision;
        _layers = source._layers;
        _why = source._why;
        _by = source._by;
        _weights64 = source._weights64;
        _weights32 = source._weights32;
        StateSize = source.StateSize;
    }

    /// <summary>The model's name (also the key of its model grain).</summary>
    public string Name { get; }

    /// <summary>The cell of every layer.</summary>
    public CellType Cell { get; }

    /// <summary>The output head.</summary>
    public OutputHead Output { get; }

    /// <summary>D, the size of x_t.</summary>
    public int InputSize { get; }

    /// <summary>H, the size of h_t in every layer.</summary>
    public int HiddenSize { get; }

    /// <summary>O, the size of y_t.</summary>
    public int OutputSize { get; }

    /// <summary>
    /// The number type of the weights, of a sequence's state and of a step's arithmetic: <see cref="ModelPrecision.Float64"/>
    /// (the state is <c>double</c>) or <see cref="ModelPrecision.Float32"/> (the state is <c>float</c>).
    /// </summary>
    public ModelPrecision Precision { get; }

    /// <summary>Standardisation of inputs and outputs around the network (from training), or null.</summary>
    public Scaling? Scaling { get; }

    /// <summary>The stacked layers; layer k&gt;0 reads layer k-1's h_t.</summary>
    public IReadOnlyList<RnnLayer> Layers => _layers;

    /// <summary>Number of layers.</summary>
    public int LayerCount => _layers.Length;

    /// <summary><c>W_hy</c>, O×H row-major (a float32 model's floats, widened exactly).</summary>
    public ReadOnlySpan<double> Why => _why;

    /// <summary><c>b_y</c>.</summary>
    public ReadOnlySpan<double> By => _by;

    /// <summary>
    /// The number of values of a sequence's state: H for each layer, twice that for an LSTM (h, then c); a forecaster's
    /// own numbers follow (<see cref="Forecaster.StateSize"/>).
    /// </summary>
    public int StateSize { get; }

    /// <summary>What turns the network into a forecaster of one raw series, or null for a plain model.</summary>
    public Forecaster? Forecaster { get; }

    /// <summary>The network a forecaster steps (its sizes are the file's), or this model when it is not a forecaster.</summary>
    public RnnModel Network => _network ?? this;

    /// <summary>True for a forecaster whose forecasts carry a distribution (intervals, quantiles, surprise).</summary>
    public bool HasIntervals => Forecaster is { Distribution: not ForecastDistribution.None };

    /// <summary>
    /// The central interval at <paramref name="level"/> (0.8 for 80 %) of the forecast the last step left in
    /// <paramref name="state"/> (<see cref="Forecaster.TryInterval"/>); false for a model without intervals or while warming up.
    /// </summary>
    public bool TryInterval(ReadOnlySpan<double> state, double level, out double lower, out double upper)
    {
        lower = upper = double.NaN;
        return Forecaster is { } f && f.TryInterval(state, _network!.StateSize, level, out lower, out upper);
    }

    /// <summary>A quantile of the forecast the last step left in <paramref name="state"/> (<see cref="Forecaster.TryQuantile"/>).</summary>
    public bool TryQuantile(ReadOnlySpan<double> state, double probability, out double value)
    {
        value = double.NaN;
        return Forecaster is { } f && f.TryQuantile(state, _network!.StateSize, probability, out value);
    }

    /// <summary>
    /// How many standard deviations (of the target) <paramref name="value"/>, arriving next, lies from the forecast the last
    /// step left in <paramref name="state"/>; NaN for a model without intervals, while warming up, or for a value it cannot take.
    /// </summary>
    public double Surprise(ReadOnlySpan<double> state, double value) =>
        Forecaster is { } f ? f.Surprise(state, _network!.StateSize, value) : double.NaN;

    /// <summary>Where an LSTM's cell states start in the state (after every layer's h); -1 for the other cells.</summary>
    public int CellStateOffset => Cell == CellType.Lstm ? _layers.Length * HiddenSize : -1;

    /// <summary>True when the state holds cell states as well as h (an LSTM).</summary>
    public bool HasCellState => Cell == CellType.Lstm;

    /// <summary>The number of weights and biases.</summary>
    public long ParameterCount
    {
        get
        {
            long count = _why.Length + _by.Length;
            foreach (var layer in _layers)
            {
                count += layer.Wxh.Length + layer.Whh.Length + layer.Bh.Length + layer.Bhh.Length;
            }

            return count;
        }
    }

    /// <summary>
    /// The same network as a model of <paramref name="precision"/>: every weight rounded to the nearest float for
    /// <see cref="ModelPrecision.Float32"/>, or widened back exactly for <see cref="ModelPrecision.Float64"/> (so a float32
    /// model's float64 twin computes in double from the very same numbers). This model when it is that precision already.
    /// </summary>
    /// <exception cref="ModelValidationException">A weight is beyond the range of float32.</exception>
    public RnnModel WithPrecision(ModelPrecision precision)
    {
        if (precision == Precision)
        {
            return this;
        }

        if (Forecaster is not null)
        {
            throw new ModelValidationException("dtype", "a forecaster's network is float64");
        }

        var layers = _layers.Select((layer, k) => layer.WithPrecision(precision, $"layers[{k}]")).ToArray();
        return new RnnModel(Name, Cell, Output, InputSize, HiddenSize, OutputSize, layers, _why, _by, Scaling);
    }

    /// <summary>The same weights under another name (shares the arrays).</summary>
    public RnnModel WithName(string name)
    {
        if (!ModelNames.IsValidName(name))
        {
            throw new ModelValidationException("name", $"'{name}' is not a valid model name (1–128 letters, digits or . _ - : /)");
        }

        return name == Name ? this : Forecaster is { } forecaster ? new RnnModel(Network.WithName(name), forecaster) : new RnnModel(this, name);
    }

    /// <summary>A one-line description such as <c>rnn_tanh 1→64×2→1 linear</c>, with <c> float32</c> after it for a float32 model.</summary>
    public override string ToString() => Forecaster is { } f
        ? $"{Name}: forecaster (season {f.Season}{(f.Log ? ", log" : string.Empty)}{(f.Distribution == ForecastDistribution.Gaussian ? ", gaussian" : string.Empty)}) 1→{Cell.ToFileName()} {Network.InputSize}→{HiddenSize}×{LayerCount}→{Network.OutputSize}→1"
        : $"{Name}: {Cell.ToFileName()} {InputSize}→{HiddenSize}×{LayerCount}→{OutputSize} {Output.ToFileName()}"
        + (Precision == ModelPrecision.Float32 ? " float32" : string.Empty);

    private ModelWeights<T> KernelCopy<T>()
        where T : unmanaged, IFloatingPointIeee754<T> =>
        new([.. _layers.Select(layer => layer.Weights<T>())], LayerWeights<T>.Convert(_why), LayerWeights<T>.Convert(_by));
}
