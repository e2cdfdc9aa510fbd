namespace RnnStreams.Grains.Tests.Fleet;

public sealed class SiloStatsCollectorTests
{
    private readonly ManualTime _time = new();
    private readonly SiloStatsCollector _stats;

    public SiloStatsCollectorTests() => _stats = new SiloStatsCollector(_time);

    private static GrainId Sequence(int i) => GrainId.Create("sequence", $"s{i:D2}");

    [Fact]
    public void Snapshot_CountsElementsActivationsAndRefusalsPerKind_Exactly()
    {
        for (var i = 0; i < 5; i++)
        {
            _stats.Activated();
        }

        _stats.Deactivated();
        _stats.Applied(1, TimeSpan.FromMicroseconds(40));
        _stats.Applied(64, TimeSpan.FromMicroseconds(900));
        _stats.Applied(1, TimeSpan.FromMicroseconds(40));
        _stats.Refused(RnnErrorKind.Gap);
        _stats.Refused(RnnErrorKind.Gap);
        _stats.Refused(RnnErrorKind.WrongSize);
        _stats.Refused(RnnErrorKind.StateLost);

        var snapshot = _stats.Snapshot("silo-a");

        Assert.Equal("silo-a", snapshot.Silo);
        Assert.Equal(4, snapshot.ActiveSequences);
        Assert.Equal(66, snapshot.Elements);
        Assert.Equal(2, snapshot.Refusals[(int)RnnErrorKind.Gap]);
        Assert.Equal(1, snapshot.Refusals[(int)RnnErrorKind.WrongSize]);
        Assert.Equal(1, snapshot.Refusals[(int)RnnErrorKind.StateLost]);
        Assert.Equal(4, snapshot.Refusals.Sum());
        Assert.Equal(3, snapshot.Latency.Sum());
        Assert.Equal(2, snapshot.Latency[LatencyBuckets.Index(TimeSpan.FromMicroseconds(40))]);
        Assert.Equal(LatencyBuckets.Index(TimeSpan.FromMicroseconds(900)) + 1, snapshot.Latency.Length); // trailing empty buckets left out
        Assert.Equal(0.959, LatencyBuckets.QuantileMs(snapshot.Latency, 0.99)); // 900 µs: bucket 896–959
    }

    [Fact]
    public void Forecast_KeepsTheLargestRecentErrors_LargestFirst()
    {
        for (var i = 1; i <= 15; i++)
        {
            _stats.Forecast(Sequence(i), i, n: 100 + i);
        }

        var top = _stats.Snapshot("s").Top;
        Assert.Equal(Enumerable.Range(6, 10).Reverse().Select(i => $"s{i:D2}"), top.Select(e => e.Sequence));
        Assert.Equal(Enumerable.Range(6, 10).Reverse().Select(i => (double)i), top.Select(e => e.Error));
        Assert.Equal(115, top[0].N);
    }

    [Fact]
    public void Forecast_ASequenceInTheList_UpdatesItsOwnEntry_AndALargerOneThenTakesTheSmallestsPlace()
    {
        for (var i = 1; i <= 10; i++)
        {
            _stats.Forecast(Sequence(i), i, n: 1);
        }

        _stats.Forecast(Sequence(10), 0.5, n: 2); // no second entry for s10: its own drops to the bottom
        _stats.Forecast(Sequence(11), 0.25, n: 1); // smaller than every entry: stays out
        var top = _stats.Snapshot("s").Top;
        Assert.Equal(10, top.Length);
        Assert.Equal(("s10", 0.5, 2L), (top[^1].Sequence, top[^1].Error, top[^1].N));
        Assert.DoesNotContain(top, e => e.Sequence == "s11");

        _stats.Forecast(Sequence(12), 3.5, n: 7); // larger than the smallest (s10's 0.5): takes its place
        top = _stats.Snapshot("s").Top;
        Assert.Equal(["s09", "s08", "s07", "s06", "s05", "s04", "s12", "s03", "s02", "s01"], top.Select(e => e.Sequence));
    }

    [Fact]
    public void Forecast_AnEntryNotUpdatedFor10s_LeavesTheList_AndItsPlaceIsFree()
    {
        for (var i = 1; i <= 10; i++)
        {
            _stats.Forecast(Sequence(i), 100 + i, n: 1);
        }

        _time.Advance(TimeSpan.FromSeconds(5));
        _stats.Forecast(Sequence(3), 50, n: 2);
        _time.Advance(TimeSpan.FromSeconds(6)); // the others are 11 s old, s03 6 s
        _stats.Forecast(Sequence(20), 0.1, n: 9); // small, but stale places are free

        var top = _stats.Snapshot("s").Top;
        Assert.Equal([("s03", 50.0), ("s20", 0.1)], top.Select(e => (e.Sequence, e.Error)));
    }

    [Fact]
    public void Forecast_SaysWhetherTheSequenceIsListed_AndAnUnlistedOneStaysOutOrEntersAsWithTheLock()
    {
        for (var i = 1; i <= 10; i++)
        {
            Assert.True(_stats.Forecast(Sequence(i), i, n: 1, listed: false)); // room: each enters
        }

        Assert.False(_stats.Forecast(Sequence(20), 0.5, n: 1, listed: false)); // below the smallest (1): out, without the lock
        Assert.False(_stats.Forecast(Sequence(20), 1.0, n: 2, listed: false)); // equal is not larger: out
        Assert.True(_stats.Forecast(Sequence(21), 50, n: 1, listed: false)); // larger: takes s01's place
        Assert.True(_stats.Forecast(Sequence(21), 0.1, n: 2, listed: true)); // listed: its own entry follows it down
        Assert.Equal(("s21", 0.1), (_stats.Snapshot("s").Top[^1].Sequence, _stats.Snapshot("s").Top[^1].Error));
        Assert.False(_stats.Forecast(Sequence(1), 0.05, n: 2, listed: true)); // thought listed, evicted, too small to enter again: it learns it is not
        Assert.True(_stats.Forecast(Sequence(22), 0.2, n: 1, listed: false)); // larger than s21's 0.1, the smallest now

        _time.Advance(TimeSpan.FromSeconds(11)); // every entry stale: places are free again
        Assert.True(_stats.Forecast(Sequence(23), 0.01, n: 1, listed: false));
        Assert.Equal([("s23", 0.01)], _stats.Snapshot("s").Top.Select(e => (e.Sequence, e.Error)));
        Assert.True(_stats.Forecast(Sequence(24), double.NaN, n: 1, listed: true)); // nothing to compare: as it was
    }

    [Fact]
    public void Forecast_NonFiniteErrors_AreIgnored()
    {
        _stats.Forecast(Sequence(1), double.NaN, n: 1);
        _stats.Forecast(Sequence(2), double.PositiveInfinity, n: 1);
        Assert.Empty(_stats.Snapshot("s").Top);
    }
}
