using System.Numerics.Tensors;

namespace RnnStreams.Core;

public sealed partial class RnnModel
{
    [ThreadStatic]
    private static double[]? t_scratch;

    /// <summary>
    /// Advances one time step in place: for each layer k, <c>h_k = f(W_xh in + W_hh h_k + b_h)</c> with
    /// <c>in = x</c> for layer 0 and the new h of layer k-1 above it; then <c>y = head(W_hy h_last + b_y)</c>.
    /// Allocates nothing (a per-thread scratch row of H numbers is reused).
    /// </summary>
    /// <param name="x">x_t, <see cref="InputSize"/> numbers.</param>
    /// <param name="state">h_{t-1} of every layer on entry, h_t on return (<see cref="StateSize"/> numbers).</param>
    /// <param name="y">Receives y_t (<see cref="OutputSize"/> numbers).</param>
    /// <remarks>
    /// No check of finiteness is made here: a NaN in x or the state propagates to the outputs (tanh(±∞) = ±1 and
    /// ReLU(+∞) = +∞ as IEEE 754 says). Use <see cref="TryAdvance"/> when bad numbers must not reach the state.
    /// </remarks>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    public void Step(ReadOnlySpan<double> x, Span<double> state, Span<double> y)
    {
        CheckSize(x.Length, InputSize, nameof(x));
        CheckSize(state.Length, StateSize, nameof(state));
        CheckSize(y.Length, OutputSize, nameof(y));
        StepCore(x, state, y, Scratch(HiddenSize));
    }

    /// <summary>
    /// Advances <c>k = xs.Length / D</c> steps atomically: either every step is applied to <paramref name="state"/>
    /// and every y_t written to <paramref name="ys"/> (k×O, row t for step t), or, when an input or a computed value is
    /// NaN or infinite, nothing in <paramref name="state"/> changes.
    /// </summary>
    /// <returns>-1 on success, else the 0-based index of the first element whose input or result is not finite.</returns>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    public int TryAdvance(ReadOnlySpan<double> xs, Span<double> state, Span<double> ys)
    {
        if (xs.Length == 0 || xs.Length % InputSize != 0)
        {
            throw new ArgumentException($"expected a positive multiple of {InputSize} inputs (k×D), got {xs.Length}", nameof(xs));
        }

        var count = xs.Length / InputSize;
        CheckSize(state.Length, StateSize, nameof(state));
        CheckSize(ys.Length, count * OutputSize, nameof(ys));

        var scratch = Scratch(HiddenSize + StateSize);
        var row = scratch[..HiddenSize];
        var work = scratch.Slice(HiddenSize, StateSize);
        state.CopyTo(work);
        for (var t = 0; t < count; t++)
        {
            var x = xs.Slice(t * InputSize, InputSize);
            var y = ys.Slice(t * OutputSize, OutputSize);
            if (Vectors.IndexOfNonFinite(x) >= 0)
            {
                return t;
            }

            StepCore(x, work, y, row);
            if (Vectors.IndexOfNonFinite(work) >= 0 || Vectors.IndexOfNonFinite(y) >= 0)
            {
                return t;
            }
        }

        work.CopyTo(state);
        return -1;
    }

    private void StepCore(ReadOnlySpan<double> x, Span<double> state, Span<double> y, Span<double> row)
    {
        var hiddenSize = HiddenSize;
        ReadOnlySpan<double> input = x;
        for (var k = 0; k < _layers.Length; k++)
        {
            var layer = _layers[k];
            var h = state.Slice(k * hiddenSize, hiddenSize);
            layer.Bh.CopyTo(row);
            Kernels.AccumulateTransposed(layer.WxhT, input, row);
            Kernels.AccumulateTransposed(layer.WhhT, h, row);

            if (Cell == CellType.RnnTanh)
            {
                TensorPrimitives.Tanh(row, h);
            }
            else
            {
                TensorPrimitives.Max(row, 0.0, h);
            }

            input = h;
        }

        ApplyHead(input, y);
    }

    private void ApplyHead(ReadOnlySpan<double> h, Span<double> y)
    {
        var hiddenSize = HiddenSize;
        var why = Why;
        var by = By;
        for (var o = 0; o < y.Length; o++)
        {
            y[o] = by[o] + TensorPrimitives.Dot(why.Slice(o * hiddenSize, hiddenSize), h);
        }

        switch (Output)
        {
            case OutputHead.Softmax:
                Softmax(y);
                break;
            case OutputHead.Sigmoid:
                TensorPrimitives.Sigmoid(y, y);
                break;
        }
    }

    /// <summary>
    /// In-place softmax that subtracts the largest value first, so logits around ±1000 give exact probabilities
    /// instead of ∞/∞.
    /// </summary>
    internal static void Softmax(Span<double> values)
    {
        var max = TensorPrimitives.Max(values);
        TensorPrimitives.Subtract(values, max, values);
        TensorPrimitives.Exp(values, values);
        var sum = TensorPrimitives.Sum(values);
        TensorPrimitives.Divide(values, sum, values);
    }

    private static Span<double> Scratch(int size)
    {
        var scratch = t_scratch;
        if (scratch is null || scratch.Length < size)
        {
            scratch = new double[Math.Max(size, 64)];
            t_scratch = scratch;
        }

        return scratch.AsSpan(0, size);
    }

    private static void CheckSize(int actual, int expected, string name)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"expected {expected} values, got {actual}", name);
        }
    }
}
