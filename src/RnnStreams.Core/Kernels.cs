using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace RnnStreams.Core;

/// <summary>
/// The matrix-vector products of a step, on transposed (column-major) weights: <c>acc[i] += Σ_j W[i, j] · v[j]</c> is
/// computed as <c>acc += v[j] · Wᵀ[j, :]</c> for every j, so each input number is broadcast once and multiplies a
/// contiguous run of weights, while a block of sums stays in vector registers for the whole pass (fused multiply-add).
/// Allocates nothing.
/// </summary>
internal static partial class Kernels
{
    /// <summary>
    /// Sums per register block of <see cref="AccumulateTransposed4"/>: three vectors for each of four sequences. With
    /// AVX-512 a "vector" is two 512-bit registers (48 rows, 24 accumulators of the 32 registers), else one
    /// <see cref="Vector{T}"/> (12 accumulators of 16 registers).
    /// </summary>
    public static int RowsPerBlock => 3 * (Vector512.IsHardwareAccelerated ? Wide1024.Count : WideAny.Count);

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
    /// The same for up to four sequences at once: <c>acc_s[i] += Σ_j wT[j·rows + i] · v_s[j]</c> for s &lt; count, where v_s
    /// starts at <c>v[offset + s·stride]</c> and acc_s at <c>acc[s·accStride]</c>. Each vector of weights loaded serves four
    /// sequences, so the weights are read from memory a quarter as often as four single calls read them.
    /// </summary>
    /// <remarks>
    /// Only the sums <c>firstRow … endRow-1</c> are computed: a caller that walks the rows in blocks of
    /// <see cref="RowsPerBlock"/> and, inside each, all its sequences keeps that block's weights in cache. Every sum gets
    /// the same fused multiply-adds in the same order (j ascending) as <see cref="AccumulateTransposed"/> gives it, so
    /// the results are the same bits.
    /// </remarks>
    public static void AccumulateTransposed4(ReadOnlySpan<double> wT, int rows, ReadOnlySpan<double> v, int offset, int stride, int count,
        Span<double> acc, int accStride, int firstRow, int endRow)
    {
        var columns = rows == 0 ? 0 : wT.Length / rows;
        if (rows < 1 || wT.Length != rows * columns || count < 1 || count > 4 || offset < 0 || offset + ((count - 1) * stride) + columns > v.Length
            || ((count - 1) * accStride) + rows > acc.Length || firstRow < 0 || endRow > rows || firstRow > endRow)
        {
            throw new ArgumentException("the weights, inputs or sums are shorter than their shapes say");
        }

        var tile = new Tile(ref MemoryMarshal.GetReference(wT), rows, columns, ref Unsafe.Add(ref MemoryMarshal.GetReference(v), offset), stride,
            count, ref MemoryMarshal.GetReference(acc), accStride);
        if (Vector512.IsHardwareAccelerated)
        {
            tile.Run<Wide1024, Pair512>(firstRow, endRow);
        }
        else
        {
            tile.Run<WideAny, Vector<double>>(firstRow, endRow);
        }
    }
}
