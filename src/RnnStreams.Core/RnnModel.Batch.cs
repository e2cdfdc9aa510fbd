using System.Numerics.Tensors;

namespace RnnStreams.Core;

public sealed partial class RnnModel
{
    /// <summary>
    /// Advances B sequences of this model by one step together: <c>xs</c> holds B inputs (B×D), <c>states</c> their states
    /// (B×<see cref="StateSize"/>), <c>ys</c> receives B outputs (B×O). The same numbers as B calls of <see cref="Step"/>
    /// (to rounding: sums run in another order), but each weight is loaded once for four sequences instead of once per
    /// sequence, which matters once the weights outgrow the cache. Allocates nothing.
    /// </summary>
    /// <remarks>As <see cref="Step"/>, no finiteness check is made.</remarks>
    /// <exception cref="ArgumentException">A span's length is not B times its row size.</exception>
    public void StepBatch(ReadOnlySpan<double> xs, Span<double> states, Span<double> ys)
    {
        if (xs.Length == 0 || xs.Length % InputSize != 0)
        {
            throw new ArgumentException($"expected B×{InputSize} inputs, got {xs.Length}", nameof(xs));
        }

        var batch = xs.Length / InputSize;
        CheckSize(states.Length, batch * StateSize, nameof(states));
        CheckSize(ys.Length, batch * OutputSize, nameof(ys));

        if (Cell.IsGated() || Scaling is not null)
        {
            // Gated cells and scaled models step one sequence at a time (same numbers as Step; the batched product is for
            // plain Elman models so far).
            var row = Scratch(RowSize);
            for (var b = 0; b < batch; b++)
            {
                StepCore(xs.Slice(b * InputSize, InputSize), states.Slice(b * StateSize, StateSize), ys.Slice(b * OutputSize, OutputSize), row);
            }

            return;
        }

        var hiddenSize = HiddenSize;
        var stateSize = StateSize;
        var pre = Scratch(batch * hiddenSize); // the same per-thread buffer as Step: nothing below uses it otherwise
        for (var k = 0; k < _layers.Length; k++)
        {
            var layer = _layers[k];
            for (var b = 0; b < batch; b++)
            {
                layer.Bh.CopyTo(pre.Slice(b * hiddenSize, hiddenSize));
            }

            if (k == 0)
            {
                MultiplyAccumulate(layer.WxhT, hiddenSize, InputSize, xs, InputSize, 0, batch, pre, hiddenSize);
            }
            else
            {
                MultiplyAccumulate(layer.WxhT, hiddenSize, hiddenSize, states, stateSize, (k - 1) * hiddenSize, batch, pre, hiddenSize);
            }

            MultiplyAccumulate(layer.WhhT, hiddenSize, hiddenSize, states, stateSize, k * hiddenSize, batch, pre, hiddenSize);
            for (var b = 0; b < batch; b++)
            {
                var row = pre.Slice(b * hiddenSize, hiddenSize);
                var h = states.Slice((b * stateSize) + (k * hiddenSize), hiddenSize);
                if (Cell == CellType.RnnTanh)
                {
                    TensorPrimitives.Tanh(row, h);
                }
                else
                {
                    TensorPrimitives.Max(row, 0.0, h);
                }
            }
        }

        var last = (_layers.Length - 1) * hiddenSize;
        for (var b = 0; b < batch; b++)
        {
            ApplyHead(states.Slice((b * stateSize) + last, hiddenSize), ys.Slice(b * OutputSize, OutputSize));
        }
    }

    /// <summary>
    /// <c>output[b, i] += Σ_j W[i, j] · X[b, j]</c> for B rows of X (row b at <c>offset + b·stride</c>), on the transposed
    /// weights <paramref name="wT"/>: four sequences per pass, so every weight is loaded once per four sequences.
    /// </summary>
    private static void MultiplyAccumulate(ReadOnlySpan<double> wT, int rows, int columns, ReadOnlySpan<double> x, int stride, int offset,
        int batch, Span<double> output, int outputStride)
    {
        // Rows outer, sequences inner: one block of rows' weights (columns × RowsPerBlock numbers) stays in L1 while every
        // group of four sequences passes over it.
        var groups = batch / 4;
        var block = Kernels.RowsPerBlock;
        for (var first = 0; first < rows; first += block)
        {
            var end = Math.Min(rows, first + block);
            for (var g = 0; g < groups; g++)
            {
                var b0 = g * 4;
                Kernels.AccumulateTransposed4(wT, columns, x, offset + (b0 * stride), stride, output[(b0 * outputStride)..], rows, outputStride, first, end);
            }
        }

        for (var b = groups * 4; b < batch; b++)
        {
            Kernels.AccumulateTransposed(wT, x.Slice(offset + (b * stride), columns), output.Slice(b * outputStride, rows));
        }
    }
}
