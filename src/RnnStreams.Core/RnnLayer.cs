namespace RnnStreams.Core;

/// <summary>
/// One Elman layer: <c>W_xh</c> (H×D), <c>W_hh</c> (H×H) and <c>b_h</c> (H), stored row-major in contiguous arrays.
/// Immutable once built; the arrays are never exposed for writing.
/// </summary>
public sealed class RnnLayer
{
    private readonly double[] _wxh;
    private readonly double[] _whh;
    private readonly double[] _bh;

    /// <summary>Builds a layer from row-major arrays, copying them. Sizes and finiteness are checked.</summary>
    public RnnLayer(int inputSize, int hiddenSize, ReadOnlySpan<double> wxh, ReadOnlySpan<double> whh, ReadOnlySpan<double> bh, string field = "layer")
    {
        if (inputSize < 1)
        {
            throw new ModelValidationException(field, $"input size must be at least 1, got {inputSize}");
        }

        if (hiddenSize < 1)
        {
            throw new ModelValidationException(field, $"hidden size must be at least 1, got {hiddenSize}");
        }

        Check(wxh, (long)hiddenSize * inputSize, $"{field}.W_xh", $"{hiddenSize}×{inputSize}");
        Check(whh, (long)hiddenSize * hiddenSize, $"{field}.W_hh", $"{hiddenSize}×{hiddenSize}");
        Check(bh, hiddenSize, $"{field}.b_h", $"{hiddenSize}");
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        _wxh = wxh.ToArray();
        _whh = whh.ToArray();
        _bh = bh.ToArray();
        WxhT = Transpose(_wxh, hiddenSize, inputSize);
        WhhT = Transpose(_whh, hiddenSize, hiddenSize);
    }

    /// <summary>
    /// <c>W_xh</c> transposed (D×H: row j is column j): what the kernel reads, so that one input number multiplies a
    /// contiguous run of H weights and the H sums stay in vector registers.
    /// </summary>
    internal double[] WxhT { get; }

    /// <summary><c>W_hh</c> transposed (H×H).</summary>
    internal double[] WhhT { get; }

    private static double[] Transpose(double[] matrix, int rows, int columns)
    {
        var transposed = new double[matrix.Length];
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < columns; j++)
            {
                transposed[(j * rows) + i] = matrix[(i * columns) + j];
            }
        }

        return transposed;
    }

    /// <summary>D for layer 0, H for the layers above it.</summary>
    public int InputSize { get; }

    /// <summary>H.</summary>
    public int HiddenSize { get; }

    /// <summary><c>W_xh</c>, H×D row-major.</summary>
    public ReadOnlySpan<double> Wxh => _wxh;

    /// <summary><c>W_hh</c>, H×H row-major.</summary>
    public ReadOnlySpan<double> Whh => _whh;

    /// <summary><c>b_h</c> (PyTorch's <c>b_ih + b_hh</c>).</summary>
    public ReadOnlySpan<double> Bh => _bh;

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
}
