using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace RnnStreams.Core;

/// <summary>
/// Numbers whose first one sits on a 64-byte boundary (a cache line, one 512-bit vector), in an array allocated on the
/// pinned heap so the collector never moves it off that boundary. The transposed weights live in these: a 512-bit load
/// that straddles two cache lines costs two, and unaligned weights made a batched LSTM step about a fifth slower.
/// </summary>
internal sealed class AlignedArray<T>
    where T : unmanaged
{
    private const int Alignment = 64;

    private readonly T[] _storage;
    private readonly int _start;

    /// <summary>Allocates <paramref name="length"/> zeros.</summary>
    public AlignedArray(int length)
    {
        var size = Unsafe.SizeOf<T>();
        _storage = GC.AllocateArray<T>(length + (Alignment / size), pinned: true);
        var address = Marshal.UnsafeAddrOfPinnedArrayElement(_storage, 0);
        _start = (int)((Alignment - (address % Alignment)) % Alignment) / size;
        Length = length;
    }

    /// <summary>How many numbers.</summary>
    public int Length { get; }

    /// <summary>The numbers, starting on a 64-byte boundary.</summary>
    public Span<T> Span => _storage.AsSpan(_start, Length);
}
