using System.Numerics;

namespace RnnStreams.Core;

public sealed partial class RnnModel
{
    /// <summary>
    /// Sequences stepped together per pass over the weights. A pass needs 8·<see cref="RowSize{T}"/> bytes of scratch per
    /// sequence (4· for a float32 model), 8·S (4·S) more in <see cref="TryStepBatch(ReadOnlySpan{double}, Span{double}, Span{double}, Span{bool})"/>
    /// (1.3 MB for 64 float64 LSTM sequences with H = 256), so a large batch runs
    /// as several passes rather than growing the per-thread scratch without bound; 64 sequences already load each
    /// weight from memory once per 64.
    /// </summary>
    private const int SequencesPerPass = 64;

    /// <summary>
    /// Advances B sequences of this model by one step together: <c>xs</c> holds B inputs (B×D), <c>states</c> their states
    /// (B×<see cref="StateSize"/>), <c>ys</c> receives B outputs (B×O). The same bits as B calls of
    /// <see cref="Step(ReadOnlySpan{double}, Span{double}, Span{double})"/>
    /// (every sum gets the same fused multiply-adds in the same order, and the same gate functions run on it), for every
    /// cell, any number of layers and scaled models; but each weight is loaded once for four sequences instead of once
    /// per sequence, and a block of weights stays in cache while up to 64 sequences pass over it, which matters once the
    /// weights outgrow the cache. Allocates nothing.
    /// </summary>
    /// <remarks>
    /// For each layer the gate sums of all B sequences are one matrix product (<c>W_ih·x</c> and <c>W_hh·h</c> over all G·H
    /// rows of the gates, tiles of four sequences); then each sequence's gate functions, head and output scaling run as
    /// in <see cref="Step(ReadOnlySpan{double}, Span{double}, Span{double})"/>. Rows are independent: sequence b's numbers
    /// never enter another sequence's sums. As <see cref="Step(ReadOnlySpan{double}, Span{double}, Span{double})"/>, no
    /// finiteness check is made; see <see cref="TryStepBatch(ReadOnlySpan{double}, Span{double}, Span{double}, Span{bool})"/>.
    /// </remarks>
    /// <exception cref="ArgumentException">A span's length is not B times its row size.</exception>
    /// <exception cref="InvalidOperationException">The model is a float32 model (its states are <c>float</c>).</exception>
    public void StepBatch(ReadOnlySpan<double> xs, Span<double> states, Span<double> ys) => StepBatch(Weights64(), xs, states, ys);

    /// <summary>
    /// A float32 model's <see cref="StepBatch(ReadOnlySpan{double}, Span{double}, Span{double})"/>: B sequences (states
    /// B×<see cref="StateSize"/> floats) stepped together, the same bits as B calls of
    /// <see cref="Step(ReadOnlySpan{double}, Span{float}, Span{double})"/>. Allocates nothing.
    /// </summary>
    /// <exception cref="ArgumentException">A span's length is not B times its row size.</exception>
    /// <exception cref="InvalidOperationException">The model is a float64 model (its states are <c>double</c>).</exception>
    public void StepBatch(ReadOnlySpan<double> xs, Span<float> states, Span<double> ys) => StepBatch(Weights32(), xs, states, ys);

    private void StepBatch<T>(ModelWeights<T> weights, ReadOnlySpan<double> xs, Span<T> states, Span<double> ys)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var batch = CheckBatch(xs, states, ys);
        var rowSize = RowSize<T>();
        var scratch = Scratch<T>(Math.Min(batch, SequencesPerPass) * rowSize);
        for (var first = 0; first < batch; first += SequencesPerPass)
        {
            var count = Math.Min(SequencesPerPass, batch - first);
            StepPass(
                weights,
                xs.Slice(first * InputSize, count * InputSize),
                states.Slice(first * StateSize, count * StateSize),
                ys.Slice(first * OutputSize, count * OutputSize),
                scratch[..(count * rowSize)]);
        }
    }

    /// <summary>
    /// Advances B sequences by one element each, like B calls of
    /// <see cref="TryAdvance(ReadOnlySpan{double}, Span{double}, Span{double})"/> with one element: for each
    /// sequence b either its state (<paramref name="states"/> row b, <see cref="StateSize"/> numbers) is advanced and
    /// <paramref name="ys"/> row b written, or — when its input or any computed value is NaN/infinite — its state row is
    /// left exactly as it was and <c>failed[b]</c> is set true. Returns how many failed. Allocates nothing.
    /// </summary>
    /// <param name="xs">B inputs, B×D.</param>
    /// <param name="states">B states, B×S: h_{t-1} on entry, h_t on return for the sequences that did not fail.</param>
    /// <param name="ys">Receives B outputs, B×O; the row of a failed sequence is filled with NaN.</param>
    /// <param name="failed">B flags, all written: true where the sequence failed.</param>
    /// <remarks>
    /// The successful rows are exactly what <see cref="StepBatch(ReadOnlySpan{double}, Span{double}, Span{double})"/> (and
    /// so <see cref="Step(ReadOnlySpan{double}, Span{double}, Span{double})"/>) gives, whatever the other
    /// rows hold: a NaN or an overflow in sequence b changes no other sequence's numbers. Each pass copies its states
    /// aside first and restores the failed rows from the copy, so a failed row is bit-for-bit what it was.
    /// </remarks>
    /// <exception cref="ArgumentException">A span's length is not B times its row size (B for <paramref name="failed"/>).</exception>
    /// <exception cref="InvalidOperationException">The model is a float32 model (its states are <c>float</c>).</exception>
    public int TryStepBatch(ReadOnlySpan<double> xs, Span<double> states, Span<double> ys, Span<bool> failed) =>
        TryStepBatch(Weights64(), xs, states, ys, failed);

    /// <summary>
    /// A float32 model's <see cref="TryStepBatch(ReadOnlySpan{double}, Span{double}, Span{double}, Span{bool})"/>: B calls
    /// of <see cref="TryAdvance(ReadOnlySpan{double}, Span{float}, Span{double})"/> with one element each, in one; an input
    /// beyond float's range or a value that overflows float fails only its own sequence, whose state row stays bit for bit
    /// as it was. Returns how many failed. Allocates nothing.
    /// </summary>
    /// <exception cref="ArgumentException">A span's length is not B times its row size (B for <paramref name="failed"/>).</exception>
    /// <exception cref="InvalidOperationException">The model is a float64 model (its states are <c>double</c>).</exception>
    public int TryStepBatch(ReadOnlySpan<double> xs, Span<float> states, Span<double> ys, Span<bool> failed) =>
        TryStepBatch(Weights32(), xs, states, ys, failed);

    private int TryStepBatch<T>(ModelWeights<T> weights, ReadOnlySpan<double> xs, Span<T> states, Span<double> ys, Span<bool> failed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var batch = CheckBatch(xs, states, ys);
        CheckSize(failed.Length, batch, nameof(failed));
        var inputSize = InputSize;
        var stateSize = StateSize;
        var outputSize = OutputSize;
        var rowSize = RowSize<T>();
        var most = Math.Min(batch, SequencesPerPass);
        var scratch = Scratch<T>(most * (stateSize + rowSize));
        var saved = scratch[..(most * stateSize)];
        var rows = scratch[(most * stateSize)..];
        var failures = 0;
        for (var first = 0; first < batch; first += SequencesPerPass)
        {
            var count = Math.Min(SequencesPerPass, batch - first);
            var x = xs.Slice(first * inputSize, count * inputSize);
            var state = states.Slice(first * stateSize, count * stateSize);
            var y = ys.Slice(first * outputSize, count * outputSize);
            state.CopyTo(saved);
            StepPass(weights, x, state, y, rows[..(count * rowSize)]);
            for (var b = 0; b < count; b++)
            {
                var stateRow = state.Slice(b * stateSize, stateSize);
                var yRow = y.Slice(b * outputSize, outputSize);
                var bad = IndexOfNonFiniteInput<T>(x.Slice(b * inputSize, inputSize)) >= 0
                    || Vectors.IndexOfNonFinite<T>(stateRow) >= 0
                    || Vectors.IndexOfNonFinite(yRow) >= 0;
                failed[first + b] = bad;
                if (bad)
                {
                    saved.Slice(b * stateSize, stateSize).CopyTo(stateRow);
                    yRow.Fill(double.NaN);
                    failures++;
                }
            }
        }

        return failures;
    }

    /// <summary>Checks the three spans of a batch and returns B.</summary>
    private int CheckBatch<T>(ReadOnlySpan<double> xs, Span<T> states, Span<double> ys)
    {
        if (xs.Length == 0 || xs.Length % InputSize != 0)
        {
            throw new ArgumentException($"expected B×{InputSize} inputs, got {xs.Length}", nameof(xs));
        }

        var batch = xs.Length / InputSize;
        CheckSize(states.Length, batch * StateSize, nameof(states));
        CheckSize(ys.Length, batch * OutputSize, nameof(ys));
        return batch;
    }

    /// <summary>
    /// One pass of <see cref="StepBatch{T}"/> over at most <see cref="SequencesPerPass"/> sequences; <paramref name="scratch"/>
    /// holds <see cref="RowSize{T}"/> numbers per sequence: every sequence's sums, then (scaled or float32 models) the inputs
    /// as the first layer reads them.
    /// </summary>
    private void StepPass<T>(ModelWeights<T> weights, ReadOnlySpan<double> xs, Span<T> states, Span<double> ys, Span<T> scratch)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var hiddenSize = HiddenSize;
        var inputSize = InputSize;
        var stateSize = StateSize;
        var sumsSize = SumsSize;
        var batch = xs.Length / inputSize;
        var sums = scratch[..(batch * sumsSize)];
        var input = Inputs(xs, scratch[sums.Length..]);

        for (var k = 0; k < weights.Layers.Length; k++)
        {
            // The same sums as LayerSums, for all the sequences at once: biases first, then W_ih·in, then W_hh·h.
            var layer = weights.Layers[k];
            var gates = layer.Bh.Length;
            for (var b = 0; b < batch; b++)
            {
                var row = sums.Slice(b * sumsSize, sumsSize);
                layer.Bh.CopyTo(row);
                layer.Bhh.CopyTo(FromH(layer, row));
            }

            if (k == 0)
            {
                MultiplyAccumulate(layer.WxhT, gates, input, inputSize, 0, batch, sums, sumsSize);
            }
            else
            {
                MultiplyAccumulate(layer.WxhT, gates, states, stateSize, (k - 1) * hiddenSize, batch, sums, sumsSize);
            }

            var fromH = Cell.IsGated() ? sums[gates..] : sums;
            MultiplyAccumulate(layer.WhhT, gates, states, stateSize, k * hiddenSize, batch, fromH, sumsSize);
            for (var b = 0; b < batch; b++)
            {
                Activate<T>(k, sums.Slice(b * sumsSize, sumsSize), states.Slice(b * stateSize, stateSize));
            }
        }

        var last = (_layers.Length - 1) * hiddenSize;
        for (var b = 0; b < batch; b++)
        {
            Finish(weights, xs.Slice(b * inputSize, inputSize), states.Slice((b * stateSize) + last, hiddenSize), ys.Slice(b * OutputSize, OutputSize));
        }
    }

    /// <summary>
    /// <c>output[b, i] += Σ_j W[i, j] · X[b, j]</c> for B rows of X (row b at <c>offset + b·stride</c>, output row b at
    /// <c>b·outputStride</c>), on the transposed weights <paramref name="wT"/> (columns × rows): four sequences per tile, so
    /// every weight is loaded once per four sequences.
    /// </summary>
    private static void MultiplyAccumulate<T>(ReadOnlySpan<T> wT, int rows, ReadOnlySpan<T> x, int stride, int offset, int batch,
        Span<T> output, int outputStride)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Rows outer, sequences inner: one block of rows' weights (RowsPerBlock × columns numbers) stays in cache while
        // every group of four sequences passes over it. (Splitting the columns too, to keep the block in L1, measured no
        // faster, even at H = 512.) The last block takes the rows left over, so that no block is shorter than a vector
        // and falls to the scalar loop.
        var block = Kernels.RowsPerBlock<T>();
        for (var first = 0; first < rows;)
        {
            var end = rows - first < 2 * block ? rows : first + block;
            for (var b0 = 0; b0 < batch; b0 += 4)
            {
                Kernels.AccumulateTransposed4(wT, rows, x, offset + (b0 * stride), stride, Math.Min(4, batch - b0), output[(b0 * outputStride)..],
                    outputStride, first, end);
            }

            first = end;
        }
    }
}
