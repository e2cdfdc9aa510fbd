using System.Numerics;

namespace RnnStreams.Core;

/// <summary>Small checks on spans of numbers.</summary>
public static class Vectors
{
    /// <summary>The index of the first NaN or infinity in <paramref name="values"/>, or -1 when all are finite.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<double> values) => IndexOfNonFinite<double>(values);

    /// <summary>The index of the first NaN or infinity in <paramref name="values"/> (doubles or floats), or -1 when all are finite.</summary>
    public static int IndexOfNonFinite<T>(ReadOnlySpan<T> values)
        where T : INumberBase<T>
    {
        for (var i = 0; i < values.Length; i++)
        {
            if (!T.IsFinite(values[i]))
            {
                return i;
            }
        }

        return -1;
    }
}
