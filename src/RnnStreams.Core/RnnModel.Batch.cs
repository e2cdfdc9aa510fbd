using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace RnnStreams.Core;

public sealed partial class RnnModel
{
    /// <summary>
    /// Advances B sequences of this model by one step together: <c>xs</c> holds B inputs (B×D), <c>states</c> their states
    /// (B×<see cref="StateSize"/>), <c>ys</c> receives B outputs (B×O). The same numbers as B calls of <see cref="Step"/>
    /// (to rounding: sums run in another order), but each weight row is loaded once for four sequences instead of once
    /// per sequence, which matters once the weights outgrow the cache. Allocates nothing.
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
                MultiplyAccumulate(layer.Wxh, hiddenSize, InputSize, xs, InputSize, 0, batch, pre, hiddenSize);
            }
            else
            {
                MultiplyAccumulate(layer.Wxh, hiddenSize, hiddenSize, states, stateSize, (k - 1) * hiddenSize, batch, pre, hiddenSize);
            }

            MultiplyAccumulate(layer.Whh, hiddenSize, hiddenSize, states, stateSize, k * hiddenSize, batch, pre, hiddenSize);
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
    /// <c>output[b, i] += Σ_j W[i, j] · X[b, j]</c> for B rows of X (row b at <c>offset + b·stride</c>), four rows of X
    /// per pass over W so that every row of W is read once per four sequences.
    /// </summary>
    private static void MultiplyAccumulate(ReadOnlySpan<double> w, int rows, int columns, ReadOnlySpan<double> x, int stride, int offset,
        int batch, Span<double> output, int outputStride)
    {
        var width = Vector<double>.Count;
        var b = 0;
        for (; b + 4 <= batch; b += 4)
        {
            var x0 = x.Slice(offset + (b * stride), columns);
            var x1 = x.Slice(offset + ((b + 1) * stride), columns);
            var x2 = x.Slice(offset + ((b + 2) * stride), columns);
            var x3 = x.Slice(offset + ((b + 3) * stride), columns);
            var v0 = MemoryMarshal.Cast<double, Vector<double>>(x0);
            var v1 = MemoryMarshal.Cast<double, Vector<double>>(x1);
            var v2 = MemoryMarshal.Cast<double, Vector<double>>(x2);
            var v3 = MemoryMarshal.Cast<double, Vector<double>>(x3);
            var vectorColumns = v0.Length * width;
            for (var i = 0; i < rows; i++)
            {
                var wRow = w.Slice(i * columns, columns);
                var wv = MemoryMarshal.Cast<double, Vector<double>>(wRow);
                var a0 = Vector<double>.Zero;
                var a1 = Vector<double>.Zero;
                var a2 = Vector<double>.Zero;
                var a3 = Vector<double>.Zero;
                for (var j = 0; j < wv.Length; j++)
                {
                    var wj = wv[j];
                    a0 += wj * v0[j];
                    a1 += wj * v1[j];
                    a2 += wj * v2[j];
                    a3 += wj * v3[j];
                }

                double s0 = Vector.Sum(a0), s1 = Vector.Sum(a1), s2 = Vector.Sum(a2), s3 = Vector.Sum(a3);
                for (var j = vectorColumns; j < columns; j++)
                {
                    var wj = wRow[j];
                    s0 += wj * x0[j];
                    s1 += wj * x1[j];
                    s2 += wj * x2[j];
                    s3 += wj * x3[j];
                }

                output[(b * outputStride) + i] += s0;
                output[((b + 1) * outputStride) + i] += s1;
                output[((b + 2) * outputStride) + i] += s2;
                output[((b + 3) * outputStride) + i] += s3;
            }
        }

        for (; b < batch; b++)
        {
            var xb = x.Slice(offset + (b * stride), columns);
            for (var i = 0; i < rows; i++)
            {
                output[(b * outputStride) + i] += TensorPrimitives.Dot(w.Slice(i * columns, columns), xb);
            }
        }
    }
}
