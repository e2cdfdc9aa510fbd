using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace RnnStreams.Core;

public sealed partial class RnnModel
{
    [ThreadStatic]
    private static double[]? t_scratch;

    [ThreadStatic]
    private static float[]? t_scratch32;

    [ThreadStatic]
    private static double[]? t_forecastState;

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
    /// ReLU(+∞) = +∞ as IEEE 754 says). Use <see cref="TryAdvance(ReadOnlySpan{double}, Span{double}, Span{double})"/>
    /// when bad numbers must not reach the state.
    /// </remarks>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    /// <exception cref="InvalidOperationException">The model is a float32 model (its state is <c>float</c>).</exception>
    public void Step(ReadOnlySpan<double> x, Span<double> state, Span<double> y)
    {
        if (Forecaster is not null)
        {
            Step(x, 0, state, y);
            return;
        }

        Step(Weights64(), x, state, y);
    }

    /// <summary>
    /// A forecaster's step with the element's time (UTC ticks, 0 for none), which its calendar inputs read; a plain model
    /// ignores the time. Allocates nothing.
    /// </summary>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    public void Step(ReadOnlySpan<double> x, long timeTicks, Span<double> state, Span<double> y)
    {
        if (Forecaster is not { } forecaster)
        {
            Step(Weights64(), x, state, y);
            return;
        }

        CheckSize(x.Length, InputSize, nameof(x));
        CheckSize(state.Length, StateSize, nameof(state));
        CheckSize(y.Length, OutputSize, nameof(y));
        forecaster.Step(_network!, x[0], timeTicks, state, y);
    }

    /// <summary>
    /// A float32 model's <see cref="Step(ReadOnlySpan{double}, Span{double}, Span{double})"/>: the same step with the state,
    /// the weights and every sum, gate function and head sum in float. x is rounded to float once on entry (after the
    /// input scaling of a scaled model, which is done in double), and y is the head's float sums widened to double, then
    /// the output function and scaling in double. Allocates nothing.
    /// </summary>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    /// <exception cref="InvalidOperationException">The model is a float64 model (its state is <c>double</c>).</exception>
    public void Step(ReadOnlySpan<double> x, Span<float> state, Span<double> y) => Step(Weights32(), x, state, y);

    private void Step<T>(ModelWeights<T> weights, ReadOnlySpan<double> x, Span<T> state, Span<double> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSize(x.Length, InputSize, nameof(x));
        CheckSize(state.Length, StateSize, nameof(state));
        CheckSize(y.Length, OutputSize, nameof(y));
        StepCore(weights, x, state, y, Scratch<T>(RowSize<T>()));
    }

    /// <summary>
    /// Scratch numbers one step needs: the layer's sums (<see cref="SumsSize"/>), and D more for the input as the first
    /// layer reads it when that is not x itself (standardised for a scaled model, rounded to float for a float32 one).
    /// </summary>
    private int RowSize<T>() => SumsSize + (Scaling is null && typeof(T) == typeof(double) ? 0 : InputSize);

    /// <summary>A layer's sums: H for an Elman layer, 3H + 3H for a GRU, 4H + 4H for an LSTM (see <see cref="LayerSums{T}"/>).</summary>
    private int SumsSize => (Cell.IsGated() ? 2 : 1) * Cell.Gates() * HiddenSize;

    /// <summary>
    /// Advances <c>k = xs.Length / D</c> steps atomically: either every step is applied to <paramref name="state"/>
    /// and every y_t written to <paramref name="ys"/> (k×O, row t for step t), or, when an input or a computed value is
    /// NaN or infinite, nothing in <paramref name="state"/> changes.
    /// </summary>
    /// <returns>-1 on success, else the 0-based index of the first element whose input or result is not finite.</returns>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    /// <exception cref="InvalidOperationException">The model is a float32 model (its state is <c>float</c>).</exception>
    public int TryAdvance(ReadOnlySpan<double> xs, Span<double> state, Span<double> ys) => TryAdvance(xs, default, state, ys);

    /// <summary>
    /// <see cref="TryAdvance(ReadOnlySpan{double}, Span{double}, Span{double})"/> with each element's time (UTC ticks, 0
    /// for none; empty for none at all), which a forecaster's calendar inputs read. A forecaster also fails an element
    /// whose value it cannot take (<see cref="Forecaster.Accepts"/>: not above 0 for a log model).
    /// </summary>
    /// <returns>-1 on success, else the 0-based index of the first element whose input or result is not finite.</returns>
    public int TryAdvance(ReadOnlySpan<double> xs, ReadOnlySpan<long> times, Span<double> state, Span<double> ys) => TryAdvance(xs, times, state, ys, null);

    /// <summary>
    /// <see cref="TryAdvance(ReadOnlySpan{double}, ReadOnlySpan{long}, Span{double}, Span{double})"/> that also fills
    /// <paramref name="details"/> (room for k elements) for a forecaster with intervals: each forecast's interval, and each
    /// arriving element's distance from the forecast made for it. Left as it was for other models.
    /// </summary>
    public int TryAdvance(ReadOnlySpan<double> xs, ReadOnlySpan<long> times, Span<double> state, Span<double> ys, ForecastDetails? details)
    {
        if (Forecaster is not { } forecaster)
        {
            return TryAdvance(Weights64(), xs, state, ys);
        }

        if (xs.Length == 0)
        {
            throw new ArgumentException("expected at least one input", nameof(xs));
        }

        if (!times.IsEmpty)
        {
            CheckSize(times.Length, xs.Length, nameof(times));
        }

        CheckSize(state.Length, StateSize, nameof(state));
        CheckSize(ys.Length, xs.Length, nameof(ys));
        // Not the shared scratch: the network's step uses that one.
        if (t_forecastState is null || t_forecastState.Length < StateSize)
        {
            t_forecastState = new double[StateSize];
        }

        var work = t_forecastState.AsSpan(0, StateSize);
        state.CopyTo(work);
        for (var t = 0; t < xs.Length; t++)
        {
            if (!forecaster.Accepts(xs[t]))
            {
                return t;
            }

            var networkState = _network!.StateSize;
            if (details is not null && HasIntervals)
            {
                details.Surprise[t] = forecaster.Surprise(work, networkState, xs[t]);
                forecaster.TryInterval(work, networkState, details.AnomalyLevel, out details.AnomalyLower[t], out details.AnomalyUpper[t]);
            }

            forecaster.Step(_network, xs[t], times.IsEmpty ? 0 : times[t], work, ys.Slice(t, 1));
            if (details is not null && HasIntervals)
            {
                forecaster.TryInterval(work, networkState, details.Level, out details.Lower[t], out details.Upper[t]);
            }

            if (Vectors.IndexOfNonFinite<double>(work) >= 0 || !double.IsFinite(ys[t]))
            {
                return t;
            }
        }

        work.CopyTo(state);
        return -1;
    }

    /// <summary>
    /// A float32 model's <see cref="TryAdvance(ReadOnlySpan{double}, Span{double}, Span{double})"/>: all or nothing over
    /// k steps of <see cref="Step(ReadOnlySpan{double}, Span{float}, Span{double})"/>. An input beyond float's range
    /// (|x| over 3.4028235E+38, infinite as a float) counts as non-finite, as does any computed value that overflows float:
    /// either fails the call and leaves <paramref name="state"/> as it was.
    /// </summary>
    /// <returns>-1 on success, else the 0-based index of the first element whose input or result is not finite.</returns>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    /// <exception cref="InvalidOperationException">The model is a float64 model (its state is <c>double</c>).</exception>
    public int TryAdvance(ReadOnlySpan<double> xs, Span<float> state, Span<double> ys) => TryAdvance(Weights32(), xs, state, ys);

    private int TryAdvance<T>(ModelWeights<T> weights, ReadOnlySpan<double> xs, Span<T> state, Span<double> ys)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (xs.Length == 0 || xs.Length % InputSize != 0)
        {
            throw new ArgumentException($"expected a positive multiple of {InputSize} inputs (k×D), got {xs.Length}", nameof(xs));
        }

        var count = xs.Length / InputSize;
        CheckSize(state.Length, StateSize, nameof(state));
        CheckSize(ys.Length, count * OutputSize, nameof(ys));

        var rowSize = RowSize<T>();
        var scratch = Scratch<T>(rowSize + StateSize);
        var row = scratch[..rowSize];
        var work = scratch.Slice(rowSize, StateSize);
        state.CopyTo(work);
        for (var t = 0; t < count; t++)
        {
            var x = xs.Slice(t * InputSize, InputSize);
            var y = ys.Slice(t * OutputSize, OutputSize);
            if (IndexOfNonFiniteInput<T>(x) >= 0)
            {
                return t;
            }

            StepCore(weights, x, work, y, row);
            if (Vectors.IndexOfNonFinite<T>(work) >= 0 || Vectors.IndexOfNonFinite(y) >= 0)
            {
                return t;
            }
        }

        work.CopyTo(state);
        return -1;
    }

    /// <summary>
    /// The index of the first input that is not finite as the model reads it (NaN or infinite, or for a float32 model
    /// infinite once rounded to float), or -1.
    /// </summary>
    private static int IndexOfNonFiniteInput<T>(ReadOnlySpan<double> x)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (var i = 0; i < x.Length; i++)
        {
            if (!T.IsFinite(T.CreateTruncating(x[i])))
            {
                return i;
            }
        }

        return -1;
    }

    private void StepCore<T>(ModelWeights<T> weights, ReadOnlySpan<double> x, Span<T> state, Span<double> y, Span<T> row)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var hiddenSize = HiddenSize;
        var sums = row[..SumsSize];
        var input = Inputs(x, row[sums.Length..]);
        for (var k = 0; k < weights.Layers.Length; k++)
        {
            var h = state.Slice(k * hiddenSize, hiddenSize);
            LayerSums(weights.Layers[k], input, h, sums);
            Activate<T>(k, sums, state);
            input = h;
        }

        Finish(weights, x, input, y);
    }

    /// <summary>
    /// The inputs (one or more rows of D numbers) as the first layer reads them: <paramref name="xs"/> itself for an
    /// unscaled float64 model, else written into <paramref name="scratch"/> standardised (a scaled model, in double) and
    /// as T (rounded once for a float32 model).
    /// </summary>
    private ReadOnlySpan<T> Inputs<T>(ReadOnlySpan<double> xs, Span<T> scratch)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Scaling is null && typeof(T) == typeof(double))
        {
            return MemoryMarshal.Cast<double, T>(xs);
        }

        var converted = scratch[..xs.Length];
        if (Scaling is { } scaling)
        {
            for (var i = 0; i < xs.Length; i += InputSize)
            {
                scaling.ScaleInput(xs.Slice(i, InputSize), converted.Slice(i, InputSize));
            }
        }
        else
        {
            for (var i = 0; i < xs.Length; i++)
            {
                converted[i] = T.CreateTruncating(xs[i]);
            }
        }

        return converted;
    }

    /// <summary>
    /// A layer's sums into <paramref name="sums"/> (<see cref="SumsSize"/> numbers): for an Elman layer
    /// <c>b_h + W_xh in + W_hh h</c>; for a gated layer G·H each, <c>W_ih in + b_ih</c>, then <c>W_hh h + b_hh</c>.
    /// </summary>
    private static void LayerSums<T>(LayerWeights<T> layer, ReadOnlySpan<T> input, ReadOnlySpan<T> h, Span<T> sums)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var fromInput = sums[..layer.Bh.Length];
        layer.Bh.CopyTo(fromInput);
        Kernels.AccumulateTransposed(layer.WxhT, input, fromInput);
        var fromH = FromH(layer, sums);
        layer.Bhh.CopyTo(fromH);
        Kernels.AccumulateTransposed(layer.WhhT, h, fromH);
    }

    /// <summary>Where a layer's <c>W_hh h</c> is summed: the second half of a gated layer's sums, an Elman layer's one sum.</summary>
    private static Span<T> FromH<T>(LayerWeights<T> layer, Span<T> sums)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var gates = layer.Bh.Length;
        return layer.Bhh.IsEmpty ? sums[..gates] : sums.Slice(gates, gates);
    }

    /// <summary>Layer k's new h (and an LSTM's c) in <paramref name="state"/> from its sums (overwritten).</summary>
    private void Activate<T>(int k, Span<T> sums, Span<T> state)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var hiddenSize = HiddenSize;
        var h = state.Slice(k * hiddenSize, hiddenSize);
        switch (Cell)
        {
            case CellType.Gru:
                GruGates<T>(sums, h);
                break;
            case CellType.Lstm:
                LstmGates<T>(sums, h, state.Slice(CellStateOffset + (k * hiddenSize), hiddenSize));
                break;
            case CellType.RnnTanh:
                TensorPrimitives.Tanh<T>(sums[..hiddenSize], h);
                break;
            default:
                TensorPrimitives.Max<T>(sums[..hiddenSize], T.Zero, h);
                break;
        }
    }

    /// <summary>
    /// y from the last layer's h: the head's sums <c>W_hy h + b_y</c> in T, widened to double, then the output function
    /// and the output scaling of a scaled model (which reads raw x) in double.
    /// </summary>
    private void Finish<T>(ModelWeights<T> weights, ReadOnlySpan<double> x, ReadOnlySpan<T> last, Span<double> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ApplyHead(weights, last, y);
        Scaling?.UnscaleOutput(x, y);
    }

    /// <summary>
    /// A GRU layer's new h in place from its sums, as PyTorch computes it: <c>gi = W_ih x + b_ih</c> and
    /// <c>gh = W_hh h + b_hh</c> (3H each, blocks r, z, n), <c>r = σ(gi_r + gh_r)</c>, <c>z = σ(gi_z + gh_z)</c>,
    /// <c>n = tanh(gi_n + r ⊙ gh_n)</c>, <c>h' = n + z ⊙ (h − n)</c>. <paramref name="sums"/> holds gi then gh (6H).
    /// </summary>
    private static void GruGates<T>(Span<T> sums, Span<T> h)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var hiddenSize = h.Length;
        var gates = 3 * hiddenSize;
        var gi = sums[..gates];
        var gh = sums.Slice(gates, gates);

        var rz = gi[..(2 * hiddenSize)];
        TensorPrimitives.Add<T>(rz, gh[..(2 * hiddenSize)], rz);
        TensorPrimitives.Sigmoid<T>(rz, rz);
        var r = gi[..hiddenSize];
        var z = gi.Slice(hiddenSize, hiddenSize);
        var n = gi.Slice(2 * hiddenSize, hiddenSize);
        var hn = gh.Slice(2 * hiddenSize, hiddenSize);
        TensorPrimitives.Multiply<T>(r, hn, hn);
        TensorPrimitives.Add<T>(n, hn, n);
        TensorPrimitives.Tanh<T>(n, n);
        var difference = gh[..hiddenSize];
        TensorPrimitives.Subtract<T>(h, n, difference);
        TensorPrimitives.Multiply<T>(z, difference, difference);
        TensorPrimitives.Add<T>(n, difference, h);
    }

    /// <summary>
    /// An LSTM layer's new h and c in place from its sums, as PyTorch computes it: <c>g = (W_ih x + b_ih) + (W_hh h + b_hh)</c>
    /// (4H, blocks i, f, g, o), <c>c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)</c>, <c>h' = σ(o) ⊙ tanh(c')</c>. <paramref name="sums"/>
    /// holds the two sums (8H).
    /// </summary>
    private static void LstmGates<T>(Span<T> sums, Span<T> h, Span<T> c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var hiddenSize = h.Length;
        var gates = 4 * hiddenSize;
        var g = sums[..gates];
        var fromH = sums.Slice(gates, gates);
        TensorPrimitives.Add<T>(g, fromH, g);

        var inputGate = g[..hiddenSize];
        var forget = g.Slice(hiddenSize, hiddenSize);
        var candidate = g.Slice(2 * hiddenSize, hiddenSize);
        var outputGate = g.Slice(3 * hiddenSize, hiddenSize);
        TensorPrimitives.Sigmoid<T>(g[..(2 * hiddenSize)], g[..(2 * hiddenSize)]);
        TensorPrimitives.Tanh<T>(candidate, candidate);
        TensorPrimitives.Sigmoid<T>(outputGate, outputGate);

        var kept = fromH[..hiddenSize];
        TensorPrimitives.Multiply<T>(forget, c, kept);
        TensorPrimitives.Multiply<T>(inputGate, candidate, candidate);
        TensorPrimitives.Add<T>(kept, candidate, c);
        TensorPrimitives.Tanh<T>(c, h);
        TensorPrimitives.Multiply<T>(outputGate, h, h);
    }

    private void ApplyHead<T>(ModelWeights<T> weights, ReadOnlySpan<T> h, Span<double> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var hiddenSize = HiddenSize;
        var why = weights.Why;
        var by = weights.By;
        for (var o = 0; o < y.Length; o++)
        {
            y[o] = double.CreateTruncating(by[o] + TensorPrimitives.Dot(why.Slice(o * hiddenSize, hiddenSize), h));
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

    /// <summary>The kernel's weights of a float64 model.</summary>
    /// <exception cref="InvalidOperationException">The model is a float32 model.</exception>
    private ModelWeights<double> Weights64() => _weights64 ?? throw WrongState("double");

    /// <summary>The kernel's weights of a float32 model.</summary>
    /// <exception cref="InvalidOperationException">The model is a float64 model.</exception>
    private ModelWeights<float> Weights32() => _weights32 ?? throw WrongState("float");

    private InvalidOperationException WrongState(string given)
    {
        if (Forecaster is not null)
        {
            return new InvalidOperationException($"{Name} is a forecaster: it steps its sequences one at a time (Step, TryAdvance), not in batches");
        }

        var type = Precision == ModelPrecision.Float32 ? "float" : "double";
        return new InvalidOperationException(
            $"{Name} is a {Precision.ToFileName()} model: its state is {type} (Span<{type}>), not {given}; call the overload that takes a Span<{type}> state");
    }

    /// <summary>This thread's scratch of <paramref name="size"/> numbers of T (one array per number type, grown as needed).</summary>
    private static Span<T> Scratch<T>(int size)
        where T : unmanaged
    {
        return typeof(T) == typeof(double)
            ? MemoryMarshal.Cast<double, T>(Grow(ref t_scratch, size))
            : MemoryMarshal.Cast<float, T>(Grow(ref t_scratch32, size));

        static Span<TNumber> Grow<TNumber>(ref TNumber[]? scratch, int size)
        {
            if (scratch is null || scratch.Length < size)
            {
                scratch = new TNumber[Math.Max(size, 64)];
            }

            return scratch.AsSpan(0, size);
        }
    }

    private static void CheckSize(int actual, int expected, string name)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"expected {expected} values, got {actual}", name);
        }
    }
}
