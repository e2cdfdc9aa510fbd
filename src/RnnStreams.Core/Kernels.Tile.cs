using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RnnStreams.Core;

internal static partial class Kernels
{
    /// <summary>The operations the tile needs from a vector type, so one generic body serves 512-bit and
    /// <see cref="Vector{T}"/> vectors of doubles or floats (the JIT compiles it once per struct, with the calls inlined).</summary>
    private interface IWidth<T, TVector>
        where TVector : struct
    {
        static abstract int Count { get; }

        static abstract TVector Load(ref T source, nuint index);

        static abstract TVector Broadcast(T value);

        static abstract TVector MultiplyAdd(TVector left, TVector right, TVector addend);

        static abstract void Store(TVector value, ref T destination, nuint index);
    }

    /// <summary>Two 512-bit vectors used as one vector twice as wide, so the tile's 12 accumulators are 24 registers: the
    /// fused multiply-adds of 12 dependent chains only half fill AVX-512's pipelines, 24 fill them.</summary>
    private readonly struct Pair512<T>(Vector512<T> low, Vector512<T> high)
    {
        public readonly Vector512<T> Low = low;
        public readonly Vector512<T> High = high;
    }

    /// <summary>16 doubles or 32 floats as two 512-bit registers, where <see cref="Vector512.IsHardwareAccelerated"/>
    /// (32 registers).</summary>
    private readonly struct Wide1024<T> : IWidth<T, Pair512<T>>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static int Count => 2 * Vector512<T>.Count;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Pair512<T> Load(ref T source, nuint index) =>
            new(Vector512.LoadUnsafe(ref source, index), Vector512.LoadUnsafe(ref source, index + (nuint)Vector512<T>.Count));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Pair512<T> Broadcast(T value)
        {
            var v = Vector512.Create(value);
            return new(v, v);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Pair512<T> MultiplyAdd(Pair512<T> left, Pair512<T> right, Pair512<T> addend) =>
            new(FusedMultiplyAdd(left.Low, right.Low, addend.Low), FusedMultiplyAdd(left.High, right.High, addend.High));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(Pair512<T> value, ref T destination, nuint index)
        {
            value.Low.StoreUnsafe(ref destination, index);
            value.High.StoreUnsafe(ref destination, index + (nuint)Vector512<T>.Count);
        }
    }

    /// <summary><see cref="Vector{T}"/> elsewhere (AVX2: 16 registers, so 12 accumulators).</summary>
    private readonly struct WideAny<T> : IWidth<T, Vector<T>>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public static int Count => Vector<T>.Count;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<T> Load(ref T source, nuint index) => Vector.LoadUnsafe(ref source, index);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<T> Broadcast(T value) => new(value);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<T> MultiplyAdd(Vector<T> left, Vector<T> right, Vector<T> addend) => FusedMultiplyAdd(left, right, addend);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(Vector<T> value, ref T destination, nuint index) => value.StoreUnsafe(ref destination, index);
    }

    /// <summary>Three consecutive vectors: one sequence's sums of a register block, or the weights they multiply.</summary>
    private struct Three<T, TWidth, TVector>
        where TWidth : struct, IWidth<T, TVector>
        where TVector : struct
    {
        private TVector _a;
        private TVector _b;
        private TVector _c;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Three<T, TWidth, TVector> Load(ref T source, nuint index)
        {
            var width = (nuint)TWidth.Count;
            return new() { _a = TWidth.Load(ref source, index), _b = TWidth.Load(ref source, index + width), _c = TWidth.Load(ref source, index + (2 * width)) };
        }

        /// <summary><c>this += weights · x</c>, one fused multiply-add per vector.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add(in Three<T, TWidth, TVector> weights, T x)
        {
            var b = TWidth.Broadcast(x);
            _a = TWidth.MultiplyAdd(weights._a, b, _a);
            _b = TWidth.MultiplyAdd(weights._b, b, _b);
            _c = TWidth.MultiplyAdd(weights._c, b, _c);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Store(ref T destination, nuint index)
        {
            var width = (nuint)TWidth.Count;
            TWidth.Store(_a, ref destination, index);
            TWidth.Store(_b, ref destination, index + width);
            TWidth.Store(_c, ref destination, index + (2 * width));
        }
    }

    /// <summary>One call of <see cref="AccumulateTransposed4{T}"/>: the weights, and where its four sequences' inputs and sums
    /// are.</summary>
    private readonly ref struct Tile<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly ref T _w;
        private readonly int _rows;
        private readonly ref T _x0;
        private readonly ref T _x1;
        private readonly ref T _x2;
        private readonly ref T _x3;
        private readonly ref T _s0;
        private readonly ref T _s1;
        private readonly ref T _s2;
        private readonly ref T _s3;
        private readonly int _count;
        private readonly int _stride;
        private readonly int _accStride;
        private readonly int _columns;

        public Tile(ref T w, int rows, int columns, ref T x, int stride, int count, ref T acc, int accStride)
        {
            // Lanes past `count` repeat the last sequence: they compute the same sums from the same numbers and store the
            // same values over them, so a batch that is not a multiple of four needs no slower path of its own.
            _w = ref w;
            _rows = rows;
            _x0 = ref x;
            _x1 = ref count > 1 ? ref Unsafe.Add(ref x, stride) : ref x;
            _x2 = ref count > 2 ? ref Unsafe.Add(ref x, 2 * stride) : ref _x1;
            _x3 = ref count > 3 ? ref Unsafe.Add(ref x, 3 * stride) : ref _x2;
            _s0 = ref acc;
            _s1 = ref count > 1 ? ref Unsafe.Add(ref acc, accStride) : ref acc;
            _s2 = ref count > 2 ? ref Unsafe.Add(ref acc, 2 * accStride) : ref _s1;
            _s3 = ref count > 3 ? ref Unsafe.Add(ref acc, 3 * accStride) : ref _s2;
            _count = count;
            _stride = stride;
            _accStride = accStride;
            _columns = columns;
        }

        public void Run<TWidth, TVector>(int firstRow, int endRow)
            where TWidth : struct, IWidth<T, TVector>
            where TVector : struct
        {
            var width = TWidth.Count;
            if (endRow - firstRow < width)
            {
                Scalar(firstRow, endRow);
                return;
            }

            // Rows not a multiple of the vector width: the last `width` sums are computed first as one vector from the sums
            // as they were, and stored last (as AccumulateTransposed does); the rows they share with the loops below get
            // the same bits.
            var tailStart = endRow - width;
            var hasTail = (endRow - firstRow) % width != 0;
            TVector t0 = default, t1 = default, t2 = default, t3 = default;
            if (hasTail)
            {
                RunOneVector<TWidth, TVector>(tailStart, out t0, out t1, out t2, out t3);
            }

            var i = Run3<TWidth, TVector>(firstRow, endRow);
            for (; i + width <= endRow; i += width)
            {
                RunOneVector<TWidth, TVector>(i, out var a0, out var a1, out var a2, out var a3);
                Store4<TWidth, TVector>(i, a0, a1, a2, a3);
            }

            if (hasTail)
            {
                Store4<TWidth, TVector>(tailStart, t0, t1, t2, t3);
            }
        }

        /// <summary>Blocks of three vectors for each of four sequences; returns the first row it left.</summary>
        private int Run3<TWidth, TVector>(int firstRow, int endRow)
            where TWidth : struct, IWidth<T, TVector>
            where TVector : struct
        {
            // Locals, not fields, in the loops: the JIT keeps them in registers.
            ref var s0 = ref _s0;
            ref var s1 = ref _s1;
            ref var s2 = ref _s2;
            ref var s3 = ref _s3;
            ref var x0 = ref _x0;
            ref var x1 = ref _x1;
            ref var x2 = ref _x2;
            ref var x3 = ref _x3;
            var width = TWidth.Count;
            var rows = _rows;
            var columns = _columns;
            var i = firstRow;
            for (; i + (3 * width) <= endRow; i += 3 * width)
            {
                var o = (nuint)i;
                var a0 = Three<T, TWidth, TVector>.Load(ref s0, o);
                var a1 = Three<T, TWidth, TVector>.Load(ref s1, o);
                var a2 = Three<T, TWidth, TVector>.Load(ref s2, o);
                var a3 = Three<T, TWidth, TVector>.Load(ref s3, o);
                ref var wr = ref Unsafe.Add(ref _w, i);
                for (var j = 0; j < columns; j++)
                {
                    var w = Three<T, TWidth, TVector>.Load(ref wr, 0);
                    wr = ref Unsafe.Add(ref wr, rows);
                    a0.Add(w, Unsafe.Add(ref x0, j));
                    a1.Add(w, Unsafe.Add(ref x1, j));
                    a2.Add(w, Unsafe.Add(ref x2, j));
                    a3.Add(w, Unsafe.Add(ref x3, j));
                }

                a0.Store(ref s0, o);
                a1.Store(ref s1, o);
                a2.Store(ref s2, o);
                a3.Store(ref s3, o);
            }

            return i;
        }

        /// <summary>The sums of one vector of rows starting at <paramref name="i"/> for the four sequences, not stored.</summary>
        private void RunOneVector<TWidth, TVector>(int i, out TVector a0, out TVector a1, out TVector a2, out TVector a3)
            where TWidth : struct, IWidth<T, TVector>
            where TVector : struct
        {
            var o = (nuint)i;
            var rows = _rows;
            var columns = _columns;
            ref var x0 = ref _x0;
            ref var x1 = ref _x1;
            ref var x2 = ref _x2;
            ref var x3 = ref _x3;
            a0 = TWidth.Load(ref _s0, o);
            a1 = TWidth.Load(ref _s1, o);
            a2 = TWidth.Load(ref _s2, o);
            a3 = TWidth.Load(ref _s3, o);
            ref var wr = ref Unsafe.Add(ref _w, i);
            for (var j = 0; j < columns; j++)
            {
                var wa = TWidth.Load(ref wr, 0);
                wr = ref Unsafe.Add(ref wr, rows);
                a0 = TWidth.MultiplyAdd(wa, TWidth.Broadcast(Unsafe.Add(ref x0, j)), a0);
                a1 = TWidth.MultiplyAdd(wa, TWidth.Broadcast(Unsafe.Add(ref x1, j)), a1);
                a2 = TWidth.MultiplyAdd(wa, TWidth.Broadcast(Unsafe.Add(ref x2, j)), a2);
                a3 = TWidth.MultiplyAdd(wa, TWidth.Broadcast(Unsafe.Add(ref x3, j)), a3);
            }
        }

        private void Store4<TWidth, TVector>(int i, TVector a0, TVector a1, TVector a2, TVector a3)
            where TWidth : struct, IWidth<T, TVector>
            where TVector : struct
        {
            var o = (nuint)i;
            TWidth.Store(a0, ref _s0, o);
            TWidth.Store(a1, ref _s1, o);
            TWidth.Store(a2, ref _s2, o);
            TWidth.Store(a3, ref _s3, o);
        }

        /// <summary>Fewer rows than one vector holds (a tiny layer): one sequence and one sum at a time.</summary>
        private void Scalar(int firstRow, int endRow)
        {
            ref var x0 = ref _x0;
            ref var s0 = ref _s0;
            for (var s = 0; s < _count; s++)
            {
                ref var xs = ref Unsafe.Add(ref x0, s * _stride);
                ref var sums = ref Unsafe.Add(ref s0, s * _accStride);
                for (var k = firstRow; k < endRow; k++)
                {
                    var sum = Unsafe.Add(ref sums, k);
                    for (var j = 0; j < _columns; j++)
                    {
                        sum = T.FusedMultiplyAdd(Unsafe.Add(ref _w, (j * _rows) + k), Unsafe.Add(ref xs, j), sum);
                    }

                    Unsafe.Add(ref sums, k) = sum;
                }
            }
        }
    }
}
