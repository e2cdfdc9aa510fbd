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
        StepCore(x, state, y, Scratch(RowSize));
    }

    /// <summary>
    /// Scratch numbers one step needs: the layer's sums (<see cref="SumsSize"/>), and D more for the standardised input
    /// of a scaled model.
    /// </summary>
    private int RowSize => SumsSize + (Scaling is null ? 0 : InputSize);

    /// <summary>A layer's sums: H for an Elman layer, 3H + 3H for a GRU, 4H + 4H for an LSTM (see <see cref="LayerSums"/>).</summary>
    private int SumsSize => (Cell.IsGated() ? 2 : 1) * Cell.Gates() * HiddenSize;

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

        var rowSize = RowSize;
        var scratch = Scratch(rowSize + StateSize);
        var row = scratch[..rowSize];
        var work = scratch.Slice(rowSize, StateSize);
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
        var sums = row[..SumsSize];
        ReadOnlySpan<double> input = x;
        if (Scaling is { } scaling)
        {
            var scaled = row.Slice(sums.Length, InputSize);
            scaling.ScaleInput(x, scaled);
            input = scaled;
        }

        for (var k = 0; k < _layers.Length; k++)
        {
            var h = state.Slice(k * hiddenSize, hiddenSize);
            LayerSums(_layers[k], input, h, sums);
            Activate(k, sums, state);
            input = h;
        }

        Finish(x, input, y);
    }

    /// <summary>
    /// A layer's sums into <paramref name="sums"/> (<see cref="SumsSize"/> numbers): for an Elman layer
    /// <c>b_h + W_xh in + W_hh h</c>; for a gated layer G·H each, <c>W_ih in + b_ih</c>, then <c>W_hh h + b_hh</c>.
    /// </summary>
    private static void LayerSums(RnnLayer layer, ReadOnlySpan<double> input, ReadOnlySpan<double> h, Span<double> sums)
    {
        var gates = layer.Gates * h.Length;
        var fromInput = sums[..gates];
        layer.Bh.CopyTo(fromInput);
        Kernels.AccumulateTransposed(layer.WxhT, input, fromInput);
        var fromH = FromH(layer, sums);
        layer.Bhh.CopyTo(fromH);
        Kernels.AccumulateTransposed(layer.WhhT, h, fromH);
    }

    /// <summary>Where a layer's <c>W_hh h</c> is summed: the second half of a gated layer's sums, an Elman layer's one sum.</summary>
    private static Span<double> FromH(RnnLayer layer, Span<double> sums)
    {
        var gates = layer.Gates * layer.HiddenSize;
        return layer.Cell.IsGated() ? sums.Slice(gates, gates) : sums[..gates];
    }

    /// <summary>Layer k's new h (and an LSTM's c) in <paramref name="state"/> from its sums (overwritten).</summary>
    private void Activate(int k, Span<double> sums, Span<double> state)
    {
        var hiddenSize = HiddenSize;
        var h = state.Slice(k * hiddenSize, hiddenSize);
        switch (Cell)
        {
            case CellType.Gru:
                GruGates(sums, h);
                break;
            case CellType.Lstm:
                LstmGates(sums, h, state.Slice(CellStateOffset + (k * hiddenSize), hiddenSize));
                break;
            case CellType.RnnTanh:
                TensorPrimitives.Tanh(sums[..hiddenSize], h);
                break;
            default:
                TensorPrimitives.Max(sums[..hiddenSize], 0.0, h);
                break;
        }
    }

    /// <summary>y from the last layer's h: the head, then the output scaling of a scaled model (which reads raw x).</summary>
    private void Finish(ReadOnlySpan<double> x, ReadOnlySpan<double> last, Span<double> y)
    {
        ApplyHead(last, y);
        Scaling?.UnscaleOutput(x, y);
    }

    /// <summary>
    /// A GRU layer's new h in place from its sums, as PyTorch computes it: <c>gi = W_ih x + b_ih</c> and
    /// <c>gh = W_hh h + b_hh</c> (3H each, blocks r, z, n), <c>r = σ(gi_r + gh_r)</c>, <c>z = σ(gi_z + gh_z)</c>,
    /// <c>n = tanh(gi_n + r ⊙ gh_n)</c>, <c>h' = n + z ⊙ (h − n)</c>. <paramref name="sums"/> holds gi then gh (6H).
    /// </summary>
    private static void GruGates(Span<double> sums, Span<double> h)
    {
        var hiddenSize = h.Length;
        var gates = 3 * hiddenSize;
        var gi = sums[..gates];
        var gh = sums.Slice(gates, gates);

        var rz = gi[..(2 * hiddenSize)];
        TensorPrimitives.Add(rz, gh[..(2 * hiddenSize)], rz);
        TensorPrimitives.Sigmoid(rz, rz);
        var r = gi[..hiddenSize];
        var z = gi.Slice(hiddenSize, hiddenSize);
        var n = gi.Slice(2 * hiddenSize, hiddenSize);
        var hn = gh.Slice(2 * hiddenSize, hiddenSize);
        TensorPrimitives.Multiply(r, hn, hn);
        TensorPrimitives.Add(n, hn, n);
        TensorPrimitives.Tanh(n, n);
        var difference = gh[..hiddenSize];
        TensorPrimitives.Subtract(h, n, difference);
        TensorPrimitives.Multiply(z, difference, difference);
        TensorPrimitives.Add(n, difference, h);
    }

    /// <summary>
    /// An LSTM layer's new h and c in place from its sums, as PyTorch computes it: <c>g = (W_ih x + b_ih) + (W_hh h + b_hh)</c>
    /// (4H, blocks i, f, g, o), <c>c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)</c>, <c>h' = σ(o) ⊙ tanh(c')</c>. <paramref name="sums"/>
    /// holds the two sums (8H).
    /// </summary>
    private static void LstmGates(Span<double> sums, Span<double> h, Span<double> c)
    {
        var hiddenSize = h.Length;
        var gates = 4 * hiddenSize;
        var g = sums[..gates];
        var fromH = sums.Slice(gates, gates);
        TensorPrimitives.Add(g, fromH, g);

        var inputGate = g[..hiddenSize];
        var forget = g.Slice(hiddenSize, hiddenSize);
        var candidate = g.Slice(2 * hiddenSize, hiddenSize);
        var outputGate = g.Slice(3 * hiddenSize, hiddenSize);
        TensorPrimitives.Sigmoid(g[..(2 * hiddenSize)], g[..(2 * hiddenSize)]);
        TensorPrimitives.Tanh(candidate, candidate);
        TensorPrimitives.Sigmoid(outputGate, outputGate);

        var kept = fromH[..hiddenSize];
        TensorPrimitives.Multiply(forget, c, kept);
        TensorPrimitives.Multiply(inputGate, candidate, candidate);
        TensorPrimitives.Add(kept, candidate, c);
        TensorPrimitives.Tanh(c, h);
        TensorPrimitives.Multiply(outputGate, h, h);
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
