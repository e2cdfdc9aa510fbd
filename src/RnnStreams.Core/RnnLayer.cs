namespace RnnStreams.Core;

/// <summary>
/// One layer: for an Elman cell <c>W_xh</c> (H×D), <c>W_hh</c> (H×H) and <c>b_h</c> (H); for a gated cell PyTorch's
/// <c>W_ih</c> (G·H×D), <c>W_hh</c> (G·H×H), <c>b_ih</c> and <c>b_hh</c> (G·H each) with G gate blocks stacked in
/// PyTorch's order. Stored row-major in contiguous arrays; immutable once built.
/// </summary>
public sealed class RnnLayer
{
    private readonly double[] _wxh;
    private readonly double[] _whh;
    private readonly double[] _bh;
    private readonly double[] _bhh = [];
    private readonly AlignedArray _wxhT;
    private readonly AlignedArray _whhT;

    /// <summary>
    /// Builds a gated (<see cref="CellType.Gru"/> or <see cref="CellType.Lstm"/>) layer from PyTorch's row-major
    /// <c>weight_ih</c>, <c>weight_hh</c>, <c>bias_ih</c> and <c>bias_hh</c>, copying them. Sizes and finiteness are checked.
    /// </summary>
    public RnnLayer(CellType cell, int inputSize, int hiddenSize, ReadOnlySpan<double> wih, ReadOnlySpan<double> whh, ReadOnlySpan<double> bih, ReadOnlySpan<double> bhh, string field = "layer")
    {
        if (!cell.IsGated())
        {
            throw new ModelValidationException(field, $"{cell.ToFileName()} layers have W_xh, W_hh and b_h; use the other constructor");
        }

        CheckSizes(inputSize, hiddenSize, field);
        var gates = cell.Gates();
        var rows = (long)gates * hiddenSize;
        Check(wih, rows * inputSize, $"{field}.W_ih", $"{rows}×{inputSize}");
        Check(whh, rows * hiddenSize, $"{field}.W_hh", $"{rows}×{hiddenSize}");
        Check(bih, rows, $"{field}.b_ih", $"{rows}");
        Check(bhh, rows, $"{field}.b_hh", $"{rows}");
        Cell = cell;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        _wxh = wih.ToArray();
        _whh = whh.ToArray();
        _bh = bih.ToArray();
        _bhh = bhh.ToArray();
        _wxhT = Transpose(_wxh, (int)rows, inputSize);
        _whhT = Transpose(_whh, (int)rows, hiddenSize);
    }

    /// <summary>Builds a layer from row-major arrays, copying them. Sizes and finiteness are checked.</summary>
    public RnnLayer(int inputSize, int hiddenSize, ReadOnlySpan<double> wxh, ReadOnlySpan<double> whh, ReadOnlySpan<double> bh, string field = "layer")
    {
        CheckSizes(inputSize, hiddenSize, field);
        Check(wxh, (long)hiddenSize * inputSize, $"{field}.W_xh", $"{hiddenSize}×{inputSize}");
        Check(whh, (long)hiddenSize * hiddenSize, $"{field}.W_hh", $"{hiddenSize}×{hiddenSize}");
        Check(bh, hiddenSize, $"{field}.b_h", $"{hiddenSize}");
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        _wxh = wxh.ToArray();
        _whh = whh.ToArray();
        _bh = bh.ToArray();
        _wxhT = Transpose(_wxh, hiddenSize, inputSize);
        _whhT = Transpose(_whh, hiddenSize, hiddenSize);
    }

    private static void CheckSizes(int inputSize, int hiddenSize, string field)
    {
        if (inputSize < 1)
        {
            throw new ModelValidationException(field, $"input size must be at least 1, got {inputSize}");
        }

        if (hiddenSize < 1)
        {
            throw new ModelValidationException(field, $"hidden size must be at least 1, got {hiddenSize}");
        }
    }

    /// <summary>
    /// <c>W_xh</c> transposed (D×H: row j is column j): what the kernel reads, so that one input number multiplies a
    /// contiguous run of H weights and the H sums stay in vector registers. Starts on a 64-byte boundary.
    /// </summary>
    internal ReadOnlySpan<double> WxhT => _wxhT.Span;

    /// <summary><c>W_hh</c> transposed (H×H), on a 64-byte boundary.</summary>
    internal ReadOnlySpan<double> WhhT => _whhT.Span;

    private static AlignedArray Transpose(double[] matrix, int rows, int columns)
    {
        var aligned = new AlignedArray(matrix.Length);
        var transposed = aligned.Span;
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < columns; j++)
            {
                transposed[(j * rows) + i] = matrix[(i * columns) + j];
            }
        }

        return aligned;
    }

    /// <summary>D for layer 0, H for the layers above it.</summary>
    public int InputSize { get; }

    /// <summary>H.</summary>
    public int HiddenSize { get; }

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
}
