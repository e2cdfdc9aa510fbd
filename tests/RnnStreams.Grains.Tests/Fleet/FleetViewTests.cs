namespace RnnStreams.Grains.Tests.Fleet;

public sealed class FleetViewTests
{
    private static readonly DateTime Stamp = new(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);
    private readonly FleetView _view = new();

    private static long[] Refusals(params (RnnErrorKind Kind, long Count)[] counts)
    {
        var all = new long[Enum.GetValues<RnnErrorKind>().Length];
        foreach (var (kind, count) in counts)
        {
            all[(int)kind] = count;
        }

        return all;
    }

    private static long[] Latency(params (int Micros, long Count)[] counts)
    {
        var buckets = new long[LatencyBuckets.Count];
        foreach (var (micros, count) in counts)
        {
            buckets[LatencyBuckets.Index(micros)] += count;
        }

        return buckets;
    }

    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void Summarize_TwoSilos_SumsLatestAndDiffersOverTheWindow()
    {
        _view.Add(new SiloStats("a", 10, 1000, Refusals((RnnErrorKind.Gap, 2)), Latency((100, 1000)), []), S(0));
        _view.Add(new SiloStats("b", 5, 400, Refusals(), Latency((100, 400)), []), S(0.5));
        _view.Add(new SiloStats("a", 12, 3000, Refusals((RnnErrorKind.Gap, 3), (RnnErrorKind.WrongSize, 1)), Latency((100, 1990), (20_000, 10)), []), S(2));
        _view.Add(new SiloStats("b", 5, 900, Refusals(), Latency((100, 890), (20_000, 10)), []), S(1.5));

        var fleet = _view.Summarize(S(2.2), Stamp);

        Assert.Equal(2, fleet.Silos);
        Assert.Equal(17, fleet.ActiveSequences);
        Assert.Equal(3900, fleet.Elements);
        Assert.Equal((2000 / 2.0) + (500 / 1.0), fleet.ElementsPerSecond, 9);
        Assert.Equal(new Dictionary<string, long> { ["Gap"] = 1, ["WrongSize"] = 1 }, fleet.Errors);
        Assert.Equal(new Dictionary<string, long> { ["Gap"] = 3, ["WrongSize"] = 1 }, fleet.ErrorsTotal);
        Assert.Equal(2.0, fleet.WindowSeconds, 9);

        // Window: 990 + 490 calls at 100 µs (bucket 96–103), 20 at 20 ms (bucket 18432–20479): rank 1485 of 1500 is at 20 ms.
        Assert.Equal(0.103, fleet.P50Ms);
        Assert.Equal(20.479, fleet.P99Ms);
        Assert.Equal(Stamp, fleet.UpdatedAt);
    }

    [Fact]
    public void Summarize_ASiloSilentFor5s_IsLeftOut_AndALeavingOneAtOnce()
    {
        _view.Add(new SiloStats("a", 3, 10, Refusals(), [], []), S(0));
        _view.Add(new SiloStats("b", 4, 20, Refusals(), [], []), S(3));
        _view.Add(new SiloStats("c", 5, 30, Refusals(), [], []), S(3));

        Assert.Equal(12, _view.Summarize(S(4.9), Stamp).ActiveSequences);
        var later = _view.Summarize(S(5.1), Stamp);
        Assert.Equal((2, 9L, 50L), (later.Silos, later.ActiveSequences, later.Elements));

        _view.Remove("b");
        Assert.Equal((1, 5L), (_view.Summarize(S(5.2), Stamp).Silos, _view.Summarize(S(5.2), Stamp).ActiveSequences));
    }

    [Fact]
    public void Summarize_OneReport_HasTotalsButNoRateOrWindow()
    {
        _view.Add(new SiloStats("a", 3, 10, Refusals((RnnErrorKind.Gap, 1)), Latency((50, 10)), []), S(0));

        var fleet = _view.Summarize(S(0.1), Stamp);

        Assert.Equal(0, fleet.ElementsPerSecond);
        Assert.Empty(fleet.Errors);
        Assert.Equal(1, fleet.ErrorsTotal["Gap"]);
        Assert.Null(fleet.P99Ms);
        Assert.Equal(0, fleet.WindowSeconds);
    }

    [Fact]
    public void Add_KeepsTheWindowPlusItsBase_SoWindowCountsCoverTheLast10s()
    {
        for (var t = 0; t <= 30; t++)
        {
            _view.Add(new SiloStats("a", 1, 100L * t, Refusals((RnnErrorKind.Gap, t)), [], []), S(t));
        }

        var fleet = _view.Summarize(S(30), Stamp);

        Assert.Equal(10, fleet.WindowSeconds, 9); // base at 20 s, the newest report at or before now − 10 s
        Assert.Equal(10, fleet.Errors["Gap"]);
        Assert.Equal(30, fleet.ErrorsTotal["Gap"]);
        Assert.Equal(100, fleet.ElementsPerSecond, 9);
    }

    [Fact]
    public void Summarize_Top_MergesSilos_LargestFirst_ASequenceInTwoReportsOnceWithItsLaterN()
    {
        _view.Add(new SiloStats("a", 1, 1, Refusals(), [], [new("s1", 9, 50), new("s2", 4, 10), new("moved", 7, 20)]), S(0));
        _view.Add(new SiloStats("b", 1, 1, Refusals(), [], [new("s3", 8, 5), new("moved", 1, 25)]), S(0));

        var top = _view.Summarize(S(1), Stamp).Top;

        Assert.Equal([("s1", 9.0, 50L, "a"), ("s3", 8.0, 5L, "b"), ("s2", 4.0, 10L, "a"), ("moved", 1.0, 25L, "b")],
            top.Select(e => (e.Sequence, e.Error, e.N, e.Silo)));
    }

    [Fact]
    public void Summarize_Top_IsAtMostTen()
    {
        var entries = Enumerable.Range(0, 10).Select(i => new SequenceError($"s{i}", i, 1)).ToArray();
        _view.Add(new SiloStats("a", 1, 1, Refusals(), [], entries), S(0));
        _view.Add(new SiloStats("b", 1, 1, Refusals(), [], [.. entries.Select(e => e with { Sequence = "b" + e.Sequence, Error = e.Error + 0.5 })]), S(0));

        var top = _view.Summarize(S(1), Stamp).Top;

        Assert.Equal(10, top.Length);
        Assert.Equal(9.5, top[0].Error);
        Assert.Equal(5, top[^1].Error);
    }
}
