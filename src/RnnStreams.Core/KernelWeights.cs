using System.Numerics;

namespace RnnStreams.Core;

/// <summary>
/// What a layer's step reads, in the number type its model computes in (<c>double</c> for a float64 model, <c>float</c>
/// for a float32 one): <c>W_xh</c> and <c>W_hh</c> transposed (row j is column j, so one input number multiplies a
/// contiguous run of G·H weights and the sums stay in vector registers), each starting on a 64-byte boundary, and the
/// biases. Built once from the layer's row-major numbers; immutable.
/// </summary>
internal sealed class LayerWeights<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly AlignedArray<T> _wxhT;
    private readonly AlignedArray<T> _whhT;
    private readonly T[] _bh;
    private readonly T[] _bhh;

    /// <summary>From a layer's row-major <c>W_xh</c> (rows × inputSize), <c>W_hh</c> (rows × hiddenSize) and biases, whose
    /// numbers T holds exactly (the layer rounded them to its precision already).</summary>
    public LayerWeights(ReadOnlySpan<double> wxh, ReadOnlySpan<double> whh, ReadOnlySpan<double> bh, ReadOnlySpan<double> bhh, int rows, int inputSize, int hiddenSize)
    {
        _wxhT = Transpose(wxh, rows, inputSize);
        _whhT = Transpose(whh, rows, hiddenSize);
        _bh = Convert(bh);
        _bhh = Convert(bhh);
    }

    /// <summary><c>W_xh</c> transposed (D×G·H), on a 64-byte boundary.</summary>
    public ReadOnlySpan<T> WxhT => _wxhT.Span;

    /// <summary><c>W_hh</c> transposed (H×G·H), on a 64-byte boundary.</summary>
    public ReadOnlySpan<T> WhhT => _whhT.Span;

    /// <summary><c>b_h</c> (Elman) or <c>b_ih</c> (gated).</summary>
    public ReadOnlySpan<T> Bh => _bh;

    /// <summary>A gated layer's <c>b_hh</c>; empty for an Elman layer.</summary>
    public ReadOnlySpan<T> Bhh => _bhh;

    /// <summary>The numbers as T: exact when T holds them (a float32 model's numbers are floats already).</summary>
    public static T[] Convert(ReadOnlySpan<double> values)
    {
        var converted = new T[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            converted[i] = T.CreateTruncating(values[i]);
        }

        return converted;
    }

    private static AlignedArray<T> Transpose(ReadOnlySpan<double> matrix, int rows, int columns)
    {
        var aligned = new AlignedArray<T>(matrix.Length);
        var transposed = aligned.Span;
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < columns; j++)
            {
                transposed[(j * rows) + i] = T.CreateTruncating(matrix[(i * columns) + j]);
            }
        }

        return aligned;
    }
}

/// <summary>Every layer's <see cref="LayerWeights{T}"/>, and the head's <c>W_hy</c> (O×H) and <c>b_y</c> as T.</summary>
internal sealed class ModelWeights<T>(LayerWeights<T>[] layers, T[] why, T[] by)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public LayerWeights<T>[] Layers { get; } = layers;

    public ReadOnlySpan<T> Why => why;

    public ReadOnlySpan<T> By => by;
}
