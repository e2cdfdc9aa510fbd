using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RnnStreams.Core;

/// <summary>
/// The matrix-vector products of a step, on transposed (column-major) weights: <c>acc[i] += Σ_j W[i, j] · v[j]</c> is
/// computed as <c>acc += v[j] · Wᵀ[j, :]</c> for every j, so each input number is broadcast once and multiplies a
/// contiguous run of weights, while a block of sums stays in vector registers for the whole pass (fused multiply-add).
/// Allocates nothing.
/// </summary>
internal static class Kernels
{
    /// <summary>Sums per register block of <see cref="AccumulateTransposed4"/>: three vectors for each of four sequences
    /// (twelve accumulators: enough independent fused multiply-adds in flight to cover their latency).</summary>
    public static int RowsPerBlock => 3 * Vector<double>.Count;

    /// <summary>Outputs per register block of one sequence: 8 vectors (32 doubles with 256-bit vectors).</summary>
    private const int Block = 8;

    /// <summary><c>acc[i] += Σ_j wT[j·H + i] · v[j]</c> with H = acc.Length and wT of v.Length × H numbers.</summary>
    public static void AccumulateTransposed(ReadOnlySpan<double> wT, ReadOnlySpan<double> v, Span<double> acc)
    {
        var rows = acc.Length;
        var columns = v.Length;
        if (wT.Length != rows * columns)
        {
            throw new ArgumentException($"expected {columns}×{rows} weights, got {wT.Length}", nameof(wT));
        }

        ref var w = ref MemoryMarshal.GetReference(wT);
        ref var a = ref MemoryMarshal.GetReference(acc);
        ref var x = ref MemoryMarshal.GetReference(v);
        var width = Vector<double>.Count;

        // H not a multiple of the vector width: the last `width` sums are computed first as one vector from the sums as
        // they were, and stored last. The rows it shares with the loops below get bit-identical values (the same fused
        // multiply-adds in the same order), so no sum is left to a slow scalar loop.
        var tailStart = rows - width;
        var hasTail = rows % width != 0 && tailStart >= 0;
        var tail = hasTail ? Vector.LoadUnsafe(ref a, (nuint)tailStart) : default;
        if (hasTail)
        {
            for (var j = 0; j < columns; j++)
            {
                tail = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref w, (nuint)((j * rows) + tailStart)), new Vector<double>(Unsafe.Add(ref x, j)), tail);
            }
        }

        var i = 0;
        for (; i + (Block * width) <= rows; i += Block * width)
        {
            var o = (nuint)i;
            var w4 = (nuint)width;
            var a0 = Vector.LoadUnsafe(ref a, o);
            var a1 = Vector.LoadUnsafe(ref a, o + w4);
            var a2 = Vector.LoadUnsafe(ref a, o + (2 * w4));
            var a3 = Vector.LoadUnsafe(ref a, o + (3 * w4));
            var a4 = Vector.LoadUnsafe(ref a, o + (4 * w4));
            var a5 = Vector.LoadUnsafe(ref a, o + (5 * w4));
            var a6 = Vector.LoadUnsafe(ref a, o + (6 * w4));
            var a7 = Vector.LoadUnsafe(ref a, o + (7 * w4));
            for (var j = 0; j < columns; j++)
            {
                var xj = new Vector<double>(Unsafe.Add(ref x, j));
                var r = (nuint)((j * rows) + i);
                a0 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref w, r), xj, a0);
                a1 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref w, r + w4), xj, a1);
                a2 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref w, r + (2 * w4)), xj, a2);
                a3 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref w, r + (3 * w4)), xj, a3);
                a4 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref w, r + (4 * w4)), xj, a4);
                a5 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref w, r + (5 * w4)), xj, a5);
                a6 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref w, r + (6 * w4)), xj, a6);
                a7 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref w, r + (7 * w4)), xj, a7);
            }

            a0.StoreUnsafe(ref a, o);
            a1.StoreUnsafe(ref a, o + w4);
            a2.StoreUnsafe(ref a, o + (2 * w4));
            a3.StoreUnsafe(ref a, o + (3 * w4));
            a4.StoreUnsafe(ref a, o + (4 * w4));
            a5.StoreUnsafe(ref a, o + (5 * w4));
            a6.StoreUnsafe(ref a, o + (6 * w4));
            a7.StoreUnsafe(ref a, o + (7 * w4));
        }

        for (; i + width <= rows; i += width)
        {
            var a0 = Vector.LoadUnsafe(ref a, (nuint)i);
            for (var j = 0; j < columns; j++)
            {
                a0 = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref w, (nuint)((j * rows) + i)), new Vector<double>(Unsafe.Add(ref x, j)), a0);
            }

            a0.StoreUnsafe(ref a, (nuint)i);
        }

        if (hasTail)
        {
            tail.StoreUnsafe(ref a, (nuint)tailStart);
            return;
        }

        for (; i < rows; i++)
        {
            var sum = Unsafe.Add(ref a, i);
            for (var j = 0; j < columns; j++)
            {
                sum = Math.FusedMultiplyAdd(Unsafe.Add(ref w, (j * rows) + i), Unsafe.Add(ref x, j), sum);
            }

            Unsafe.Add(ref a, i) = sum;
        }
    }

    /// <summary>
    /// The same for four sequences at once: <c>acc_s[i] += Σ_j wT[j·H + i] · v_s[j]</c> for s = 0…3, where v_s starts at
    /// <c>v[offset + s·stride]</c> and acc_s at <c>acc[s·accStride]</c>. Each vector of weights loaded serves four
    /// sequences, so the weights are read from memory a quarter as often as four single calls read them.
    /// </summary>
    /// <remarks>Only the sums <c>firstRow … endRow-1</c> are computed: a caller that walks the rows in blocks of
    /// <see cref="RowsPerBlock"/> and, inside each, all its sequences keeps that block's weights in the L1 cache.</remarks>
    public static void AccumulateTransposed4(ReadOnlySpan<double> wT, int columns, ReadOnlySpan<double> v, int offset, int stride,
        Span<double> acc, int rows, int accStride, int firstRow, int endRow)
    {
        if (wT.Length != rows * columns || offset + (3 * stride) + columns > v.Length || (3 * accStride) + rows > acc.Length
            || firstRow < 0 || endRow > rows || firstRow > endRow)
        {
            throw new ArgumentException("the weights, inputs or sums are shorter than their shapes say");
        }

        ref var w = ref MemoryMarshal.GetReference(wT);
        ref var x0 = ref Unsafe.Add(ref MemoryMarshal.GetReference(v), offset);
        ref var x1 = ref Unsafe.Add(ref x0, stride);
        ref var x2 = ref Unsafe.Add(ref x1, stride);
        ref var x3 = ref Unsafe.Add(ref x2, stride);
        ref var s0 = ref MemoryMarshal.GetReference(acc);
        ref var s1 = ref Unsafe.Add(ref s0, accStride);
        ref var s2 = ref Unsafe.Add(ref s1, accStride);
        ref var s3 = ref Unsafe.Add(ref s2, accStride);
        var width = Vector<double>.Count;
        var w4 = (nuint)width;
        var i = firstRow;
        for (; i + (3 * width) <= endRow; i += 3 * width)
        {
            var o = (nuint)i;
            var a00 = Vector.LoadUnsafe(ref s0, o);
            var a01 = Vector.LoadUnsafe(ref s0, o + w4);
            var a02 = Vector.LoadUnsafe(ref s0, o + (2 * w4));
            var a10 = Vector.LoadUnsafe(ref s1, o);
            var a11 = Vector.LoadUnsafe(ref s1, o + w4);
            var a12 = Vector.LoadUnsafe(ref s1, o + (2 * w4));
            var a20 = Vector.LoadUnsafe(ref s2, o);
            var a21 = Vector.LoadUnsafe(ref s2, o + w4);
            var a22 = Vector.LoadUnsafe(ref s2, o + (2 * w4));
            var a30 = Vector.LoadUnsafe(ref s3, o);
            var a31 = Vector.LoadUnsafe(ref s3, o + w4);
            var a32 = Vector.LoadUnsafe(ref s3, o + (2 * w4));
            ref var wr = ref Unsafe.Add(ref w, i);
            for (var j = 0; j < columns; j++)
            {
                var wa = Vector.LoadUnsafe(ref wr);
                var wb = Vector.LoadUnsafe(ref wr, w4);
                var wc = Vector.LoadUnsafe(ref wr, 2 * w4);
                wr = ref Unsafe.Add(ref wr, rows);
                var b = new Vector<double>(Unsafe.Add(ref x0, j));
                a00 = Vector.FusedMultiplyAdd(wa, b, a00);
                a01 = Vector.FusedMultiplyAdd(wb, b, a01);
                a02 = Vector.FusedMultiplyAdd(wc, b, a02);
                b = new Vector<double>(Unsafe.Add(ref x1, j));
                a10 = Vector.FusedMultiplyAdd(wa, b, a10);
                a11 = Vector.FusedMultiplyAdd(wb, b, a11);
                a12 = Vector.FusedMultiplyAdd(wc, b, a12);
                b = new Vector<double>(Unsafe.Add(ref x2, j));
                a20 = Vector.FusedMultiplyAdd(wa, b, a20);
                a21 = Vector.FusedMultiplyAdd(wb, b, a21);
                a22 = Vector.FusedMultiplyAdd(wc, b, a22);
                b = new Vector<double>(Unsafe.Add(ref x3, j));
                a30 = Vector.FusedMultiplyAdd(wa, b, a30);
                a31 = Vector.FusedMultiplyAdd(wb, b, a31);
                a32 = Vector.FusedMultiplyAdd(wc, b, a32);
            }

            a00.StoreUnsafe(ref s0, o);
            a01.StoreUnsafe(ref s0, o + w4);
            a02.StoreUnsafe(ref s0, o + (2 * w4));
            a10.StoreUnsafe(ref s1, o);
            a11.StoreUnsafe(ref s1, o + w4);
            a12.StoreUnsafe(ref s1, o + (2 * w4));
            a20.StoreUnsafe(ref s2, o);
            a21.StoreUnsafe(ref s2, o + w4);
            a22.StoreUnsafe(ref s2, o + (2 * w4));
            a30.StoreUnsafe(ref s3, o);
            a31.StoreUnsafe(ref s3, o + w4);
            a32.StoreUnsafe(ref s3, o + (2 * w4));
        }

        for (; i + width <= endRow; i += width)
        {
            var o = (nuint)i;
            var a0 = Vector.LoadUnsafe(ref s0, o);
            var a1 = Vector.LoadUnsafe(ref s1, o);
            var a2 = Vector.LoadUnsafe(ref s2, o);
            var a3 = Vector.LoadUnsafe(ref s3, o);
            ref var wr = ref Unsafe.Add(ref w, i);
            for (var j = 0; j < columns; j++)
            {
                var wa = Vector.LoadUnsafe(ref wr);
                wr = ref Unsafe.Add(ref wr, rows);
                a0 = Vector.FusedMultiplyAdd(wa, new Vector<double>(Unsafe.Add(ref x0, j)), a0);
                a1 = Vector.FusedMultiplyAdd(wa, new Vector<double>(Unsafe.Add(ref x1, j)), a1);
                a2 = Vector.FusedMultiplyAdd(wa, new Vector<double>(Unsafe.Add(ref x2, j)), a2);
                a3 = Vector.FusedMultiplyAdd(wa, new Vector<double>(Unsafe.Add(ref x3, j)), a3);
            }

            a0.StoreUnsafe(ref s0, o);
            a1.StoreUnsafe(ref s1, o);
            a2.StoreUnsafe(ref s2, o);
            a3.StoreUnsafe(ref s3, o);
        }

        // The last H mod width sums, one sequence at a time.
        for (var s = 0; s < 4 && i < endRow; s++)
        {
            ref var xs = ref Unsafe.Add(ref x0, s * stride);
            ref var sums = ref Unsafe.Add(ref s0, s * accStride);
            for (var k = i; k < endRow; k++)
            {
                var sum = Unsafe.Add(ref sums, k);
                for (var j = 0; j < columns; j++)
                {
                    sum = Math.FusedMultiplyAdd(Unsafe.Add(ref w, (j * rows) + k), Unsafe.Add(ref xs, j), sum);
                }

                Unsafe.Add(ref sums, k) = sum;
            }
        }
    }
}
