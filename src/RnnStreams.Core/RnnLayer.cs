using System.Numerics;

namespace RnnStreams.Core;

/// <summary>
/// One layer: for an Elman cell <c>W_xh</c> (H×D), <c>W_hh</c> (H×H) and <c>b_h</c> (H); for a gated cell PyTorch's
/// <c>W_ih</c> (G·H×D), <c>W_hh</c> (G·H×H), <c>b_ih</c> and <c>b_hh</c> (G·H each) with G gate blocks stacked in
/// PyTorch's order. Stored row-major in contiguous arrays; immutable once built.
/// </summary>
/// <remarks>
/// A <see cref="ModelPrecision.Float32"/> layer rounds every number to the nearest float once, when it is built: its
/// kernel copies are floats, and <see cref="Wxh"/>, <see cref="Whh"/>, <see cref="Bh"/>, <see cref="Bhh"/> give the
/// same floats widened to double (exactly), so a model file written from it and read back holds the same numbers.
/// </remarks>
public sealed class RnnLayer
{
    private readonly double[] _wxh;
    private readonly double[] _whh;
    private readonly double[] _bh;
    private readonly double[] _bhh = [];

    /// <summary>The kernel's copy: a <see cref="LayerWeights{T}"/> of double or of float, as <see cref="Precision"/> says.</summary>
    private readonly object _weights;

    /// <summary>
    /// Builds a gated (<see cref="CellType.Gru"/> or <see cref="CellType.Lstm"/>) layer from PyTorch's row-major
    /// <c>weight_ih</c>, <c>weight_hh</c>, <c>bias_ih</c> and <c>bias_hh</c>, copying them (rounded to float for a float32
    /// layer). Sizes and finiteness are checked.
    /// </summary>
    public RnnLayer(CellType cell, int inputSize, int hiddenSize, ReadOnlySpan<double> wih, ReadOnlySpan<double> whh, ReadOnlySpan<double> bih, ReadOnlySpan<double> bhh, string field = "layer",
        ModelPrecision precision = ModelPrecision.Float64)
    {
        if (!cell.IsGated())
        {
            throw new ModelValidationException(field, $"{cell.ToFileName()} layers have W_xh, W_hh and b_h; use the other constructor");
        }

        CheckSizes(inputSize, hiddenSize, precision, field);
        var gates = cell.Gates();
        var rows = (long)gates * hiddenSize;
        Check(wih, rows * inputSize, $"{field}.W_ih", $"{rows}×{inputSize}");
        Check(whh, rows * hiddenSize, $"{field}.W_hh", $"{rows}×{hiddenSize}");
        Check(bih, rows, $"{field}.b_ih", $"{rows}");
        Check(bhh, rows, $"{field}.b_hh", $"{rows}");
        Cell = cell;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        Precision = precision;
        _wxh = Copy(wih, precision, $"{field}.W_ih");
        _whh = Copy(whh, precision, $"{field}.W_hh");
        _bh = Copy(bih, precision, $"{field}.b_ih");
        _bhh = Copy(bhh, precision, $"{field}.b_hh");
        _weights = KernelCopy();
    }

    /// <summary>Builds a layer from row-major arrays, copying them (rounded to float for a float32 layer). Sizes and
    /// finiteness are checked.</summary>
    public RnnLayer(int inputSize, int hiddenSize, ReadOnlySpan<double> wxh, ReadOnlySpan<double> whh, ReadOnlySpan<double> bh, string field = "layer",
        ModelPrecision precision = ModelPrecision.Float64)
    {
        CheckSizes(inputSize, hiddenSize, precision, field);
        Check(wxh, (long)hiddenSize * inputSize, $"{field}.W_xh", $"{hiddenSize}×{inputSize}");
        Check(whh, (long)hiddenSize * hiddenSize, $"{field}.W_hh", $"{hiddenSize}×{hiddenSize}");
        Check(bh, hiddenSize, $"{field}.b_h", $"{hiddenSize}");
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        Precision = precision;
        _wxh = Copy(wxh, precision, $"{field}.W_xh");
        _whh = Copy(whh, precision, $"{field}.W_hh");
        _bh = Copy(bh, precision, $"{field}.b_h");
        _weights = KernelCopy();
    }

    private static void CheckSizes(int inputSize, int hiddenSize, ModelPrecision precision, string field)
    {
        if (!Enum.IsDefined(precision))
        {
            throw new ModelValidationException(field, $"unknown precision {precision}");
        }

        if (inputSize < 1)
        {
            throw new ModelValidationException(field, $"input size must be at least 1, got {inputSize}");
        }

        if (hiddenSize < 1)
        {
            throw new ModelValidationException(field, $"hidden size must be at least 1, got {hiddenSize}");
        }
    }

    /// <summary>The kernel's copy of the weights as T, which must be the layer's precision's type.</summary>
    internal LayerWeights<T> Weights<T>()
        where T : unmanaged, IFloatingPointIeee754<T> => (LayerWeights<T>)_weights;

    private object KernelCopy()
    {
        var rows = Gates * HiddenSize;
        return Precision == ModelPrecision.Float32
            ? new LayerWeights<float>(_wxh, _whh, _bh, _bhh, rows, InputSize, HiddenSize)
            : new LayerWeights<double>(_wxh, _whh, _bh, _bhh, rows, InputSize, HiddenSize);
    }

    /// <summary>The same numbers as a layer of another precision (rounded to float, or widened back exactly).</summary>
    internal RnnLayer WithPrecision(ModelPrecision precision, string field) =>
        precision == Precision ? this
        : Cell.IsGated() ? new RnnLayer(Cell, InputSize, HiddenSize, _wxh, _whh, _bh, _bhh, field, precision)
        : new RnnLayer(InputSize, HiddenSize, _wxh, _whh, _bh, field, precision);

    /// <summary>D for layer 0, H for the layers above it.</summary>
    public int InputSize { get; }

    /// <summary>H.</summary>
    public int HiddenSize { get; }

    /// <summary>The number type of the layer's weights and of a step's arithmetic.</summary>
    public ModelPrecision Precision { get; }

    /// <summary>The cell: an Elman layer is built as <see cref="CellType.RnnTanh"/> (its activation is the model's).</summary>
    public CellType Cell { get; } = CellType.RnnTanh;

    /// <summary>Gate blocks stacked in the weights: 1, 3 or 4.</summary>
    public int Gates => Cell.Gates();

    /// <summary><c>W_xh</c>, H×D row-major; for a gated cell <c>W_ih</c>, G·H×D.</summary>
    public ReadOnlySpan<double> Wxh => _wxh;

    /// <summary><c>W_hh</c>, H×H row-major; for a gated cell G·H×H.</summary>
    public ReadOnlySpan<double> Whh => _whh;

    /// <summary><c>b_h</c> (PyTorch's <c>b_ih + b_hh</c>); for a gated cell <c>b_ih</c> alone.</summary>
    public ReadOnlySpan<double> Bh => _bh;

    /// <summary>A gated cell's <c>b_hh</c> (G·H); empty for an Elman layer.</summary>
    public ReadOnlySpan<double> Bhh => _bhh;

    internal static void Check(ReadOnlySpan<double> values, long expected, string field, string shape)
    {
        if (values.Length != expected)
        {
            throw new ModelValidationException(field, $"expected {expected} values ({shape}), got {values.Length}");
        }

        var bad = Vectors.IndexOfNonFinite(values);
        if (bad >= 0)
        {
            throw new ModelValidationException(field, $"value {bad} is {values[bad]}; every weight must be finite");
        }
    }

    /// <summary>
    /// A copy of checked <paramref name="values"/> as a model of <paramref name="precision"/> keeps them: as they are for
    /// float64; for float32 each rounded to the nearest float (then held as a double, which it is exactly).
    /// </summary>
    /// <exception cref="ModelValidationException">A value is beyond float's range (its magnitude over 3.4028235E+38).</exception>
    internal static double[] Copy(ReadOnlySpan<double> values, ModelPrecision precision, string field)
    {
        var copy = values.ToArray();
        if (precision == ModelPrecision.Float32)
        {
            for (var i = 0; i < copy.Length; i++)
            {
                var rounded = (float)copy[i];
                if (!float.IsFinite(rounded))
                {
                    throw new ModelValidationException(field, $"value {i} is {copy[i]}, beyond the range of float32 (±{float.MaxValue})");
                }

                copy[i] = rounded;
            }
        }

        return copy;
    }
}
