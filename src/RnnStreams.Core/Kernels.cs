using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace RnnStreams.Core;

/// <summary>
/// The matrix-vector products of a step, on transposed (column-major) weights: <c>acc[i] += Σ_j W[i, j] · v[j]</c> is
/// computed as <c>acc += v[j] · Wᵀ[j, :]</c> for every j, so each input number is broadcast once and multiplies a
/// contiguous run of weights, while a block of sums stays in vector registers for the whole pass (fused multiply-add).
/// Generic over the number type: <c>double</c> for float64 models, <c>float</c> for float32 ones (twice the lanes per
/// vector); the JIT compiles each separately, so the double code is what it would be written for double alone.
/// Allocates nothing.
/// </summary>
internal static partial class Kernels
{
    /// <summary>
    /// Sums per register block of <see cref="AccumulateTransposed4{T}"/>: three vectors for each of four sequences. With
    /// AVX-512 a "vector" is two 512-bit registers (48 doubles or 96 floats, 24 accumulators of the 32 registers), else
    /// one <see cref="Vector{T}"/> (12 accumulators of 16 registers).
    /// </summary>
    public static int RowsPerBlock<T>()
        where T : unmanaged, IFloatingPointIeee754<T> =>
        3 * (Vector512.IsHardwareAccelerated ? Wide1024<T>.Count : WideAny<T>.Count);

    /// <summary>Outputs per register block of one sequence: 8 vectors (32 doubles or 64 floats with 256-bit vectors).</summary>
    private const int Block = 8;

    /// <summary><c>acc[i] += Σ_j wT[j·H + i] · v[j]</c> with H = acc.Length and wT of v.Length × H numbers.</summary>
    public static void AccumulateTransposed<T>(ReadOnlySpan<T> wT, ReadOnlySpan<T> v, Span<T> acc)
        where T : unmanaged, IFloatingPointIeee754<T>
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
        var width = Vector<T>.Count;

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
                tail = FusedMultiplyAdd(Vector.LoadUnsafe(ref w, (nuint)((j * rows) + tailStart)), new Vector<T>(Unsafe.Add(ref x, j)), tail);
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
                var xj = new Vector<T>(Unsafe.Add(ref x, j));
                var r = (nuint)((j * rows) + i);
                a0 = FusedMultiplyAdd(Vector.LoadUnsafe(ref w, r), xj, a0);
                a1 = FusedMultiplyAdd(Vector.LoadUnsafe(ref w, r + w4), xj, a1);
                a2 = FusedMultiplyAdd(Vector.LoadUnsafe(ref w, r + (2 * w4)), xj, a2);
                a3 = FusedMultiplyAdd(Vector.LoadUnsafe(ref w, r + (3 * w4)), xj, a3);
                a4 = FusedMultiplyAdd(Vector.LoadUnsafe(ref w, r + (4 * w4)), xj, a4);
                a5 = FusedMultiplyAdd(Vector.LoadUnsafe(ref w, r + (5 * w4)), xj, a5);
                a6 = FusedMultiplyAdd(Vector.LoadUnsafe(ref w, r + (6 * w4)), xj, a6);
                a7 = FusedMultiplyAdd(Vector.LoadUnsafe(ref w, r + (7 * w4)), xj, a7);
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
                a0 = FusedMultiplyAdd(Vector.LoadUnsafe(ref w, (nuint)((j * rows) + i)), new Vector<T>(Unsafe.Add(ref x, j)), a0);
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
                sum = T.FusedMultiplyAdd(Unsafe.Add(ref w, (j * rows) + i), Unsafe.Add(ref x, j), sum);
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
    /// <see cref="RowsPerBlock{T}"/> and, inside each, all its sequences keeps that block's weights in cache. Every sum gets
    /// the same fused multiply-adds in the same order (j ascending) as <see cref="AccumulateTransposed{T}"/> gives it, so
    /// the results are the same bits.
    /// </remarks>
    public static void AccumulateTransposed4<T>(ReadOnlySpan<T> wT, int rows, ReadOnlySpan<T> v, int offset, int stride, int count,
        Span<T> acc, int accStride, int firstRow, int endRow)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var columns = rows == 0 ? 0 : wT.Length / rows;
        if (rows < 1 || wT.Length != rows * columns || count < 1 || count > 4 || offset < 0 || offset + ((count - 1) * stride) + columns > v.Length
            || ((count - 1) * accStride) + rows > acc.Length || firstRow < 0 || endRow > rows || firstRow > endRow)
        {
            throw new ArgumentException("the weights, inputs or sums are shorter than their shapes say");
        }

        var tile = new Tile<T>(ref MemoryMarshal.GetReference(wT), rows, columns, ref Unsafe.Add(ref MemoryMarshal.GetReference(v), offset), stride,
            count, ref MemoryMarshal.GetReference(acc), accStride);
        if (Vector512.IsHardwareAccelerated)
        {
            tile.Run<Wide1024<T>, Pair512<T>>(firstRow, endRow);
        }
        else
        {
            tile.Run<WideAny<T>, Vector<T>>(firstRow, endRow);
        }
    }

    /// <summary><c>a · b + c</c> lane by lane, rounded once: <see cref="Vector.FusedMultiplyAdd(Vector{double}, Vector{double}, Vector{double})"/>
    /// or its float twin (the branch is decided when the JIT compiles the method for T).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> FusedMultiplyAdd<T>(Vector<T> a, Vector<T> b, Vector<T> c)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(double)
            ? Vector.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>()
            : Vector.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();

    /// <summary>The same for 512-bit vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> FusedMultiplyAdd<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(double)
            ? Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>()
            : Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
}
