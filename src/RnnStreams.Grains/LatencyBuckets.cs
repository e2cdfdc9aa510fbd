using System.Numerics;

namespace RnnStreams.Grains;

/// <summary>
/// A fixed latency histogram in microseconds, log-linear as HdrHistogram's: values 0–7 µs have a bucket each; above,
/// every power of two is split into 8 equal buckets, so a bucket's upper edge is at most 12.5 % above any value in it.
/// 256 buckets reach 2^33 µs (about 2.4 hours); longer values count in the last one. Indexing is integer arithmetic only.
/// </summary>
public static class LatencyBuckets
{
    /// <summary>The number of buckets.</summary>
    public const int Count = 256;

    /// <summary>The bucket of a duration (whole microseconds, rounded down; negative counts as 0).</summary>
    public static int Index(TimeSpan duration) => Index(Math.Max(0, duration.Ticks / TimeSpan.TicksPerMicrosecond));

    /// <summary>The bucket of <paramref name="micros"/> microseconds.</summary>
    public static int Index(long micros)
    {
        if (micros < 8)
        {
            return (int)Math.Max(0, micros);
        }

        var exponent = 63 - BitOperations.LeadingZeroCount((ulong)micros); // ≥ 3
        var sub = (int)((micros >> (exponent - 3)) & 7);
        return Math.Min(Count - 1, 8 + ((exponent - 3) * 8) + sub);
    }

    /// <summary>The largest value (µs) that falls in bucket <paramref name="index"/>.</summary>
    public static long UpperBoundMicros(int index)
    {
        if (index < 8)
        {
            return index;
        }

        var exponent = ((index - 8) / 8) + 3;
        var sub = (index - 8) % 8;
        return ((9L + sub) << (exponent - 3)) - 1;
    }

    /// <summary>
    /// The <paramref name="quantile"/> (0–1) of the counted values in milliseconds: the upper edge of the bucket that holds
    /// the value of rank ⌈quantile × total⌉; null when nothing was counted.
    /// </summary>
    public static double? QuantileMs(ReadOnlySpan<long> counts, double quantile)
    {
        long total = 0;
        foreach (var c in counts)
        {
            total += c;
        }

        if (total <= 0)
        {
            return null;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(quantile * total));
        long seen = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            seen += counts[i];
            if (seen >= rank)
            {
                return UpperBoundMicros(i) / 1000.0;
            }
        }

        return UpperBoundMicros(counts.Length - 1) / 1000.0;
    }
}
