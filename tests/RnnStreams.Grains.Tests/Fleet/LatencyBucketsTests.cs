namespace RnnStreams.Grains.Tests.Fleet;

public sealed class LatencyBucketsTests
{
    [Fact]
    public void Index_EveryValue_FallsInABucketWhoseUpperEdgeIsAtMostOneEighthAbove()
    {
        var previous = -1;
        for (long micros = 0; micros < 1L << 22; micros += 1 + (micros / 97))
        {
            var index = LatencyBuckets.Index(micros);
            Assert.True(index >= previous, $"bucket of {micros} µs went down");
            previous = index;
            var upper = LatencyBuckets.UpperBoundMicros(index);
            Assert.InRange(upper, micros, micros + (micros / 8));
            Assert.True(index == 0 || LatencyBuckets.UpperBoundMicros(index - 1) < micros, $"{micros} µs also fits bucket {index - 1}");
        }
    }

    [Fact]
    public void Index_BeyondTheRange_CountsInTheLastBucket()
    {
        Assert.Equal(LatencyBuckets.Count - 1, LatencyBuckets.Index(long.MaxValue));
        Assert.Equal(LatencyBuckets.Count - 1, LatencyBuckets.Index(TimeSpan.FromDays(1)));
        Assert.Equal(0, LatencyBuckets.Index(TimeSpan.FromTicks(-5)));
    }

    [Fact]
    public void QuantileMs_KnownLatencies_GivesTheBucketEdgeOfTheRankedValue()
    {
        var counts = new long[LatencyBuckets.Count];
        counts[LatencyBuckets.Index(TimeSpan.FromMilliseconds(1))] += 985; // 1000 µs: bucket 960–1023
        counts[LatencyBuckets.Index(TimeSpan.FromMilliseconds(50))] += 15; // 50000 µs: bucket 49152–53247

        Assert.Equal(1.023, LatencyBuckets.QuantileMs(counts, 0.50));
        Assert.Equal(1.023, LatencyBuckets.QuantileMs(counts, 0.985)); // rank 985: still the last 1 ms value
        Assert.Equal(53.247, LatencyBuckets.QuantileMs(counts, 0.99)); // rank 990
        Assert.Null(LatencyBuckets.QuantileMs(new long[LatencyBuckets.Count], 0.99));
    }
}
