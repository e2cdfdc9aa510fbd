namespace RnnStreams.Grains;

/// <summary>
/// The merge behind <see cref="FleetGrain"/>, apart from Orleans and the clock: keeps each silo's reports of the last
/// <see cref="Window"/> (and one older, the window's base), forgets a silo not heard from for <see cref="SiloTimeout"/>,
/// and sums what the live silos say. Rates and window counts are differences between a silo's own cumulative reports,
/// stamped with this view's clock on arrival, so silos' clocks never meet.
/// </summary>
public sealed class FleetView
{
    /// <summary>A silo whose last report is older than this is left out (and forgotten).</summary>
    public static readonly TimeSpan SiloTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The span of the latency quantiles and the refusal counts.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private readonly Dictionary<string, List<Report>> _silos = new(StringComparer.Ordinal);

    /// <summary>Silos currently held (live or not yet forgotten).</summary>
    public int SiloCount => _silos.Count;

    /// <summary>Adds a silo's report, received at <paramref name="now"/> (a monotonic clock).</summary>
    public void Add(SiloStats stats, TimeSpan now)
    {
        if (!_silos.TryGetValue(stats.Silo, out var reports))
        {
            _silos[stats.Silo] = reports = [];
        }

        reports.Add(new Report(now, stats));
        while (reports.Count > 2 && reports[1].At <= now - Window)
        {
            reports.RemoveAt(0);
        }

        Forget(now);
    }

    /// <summary>Forgets a silo at once (it is stopping).</summary>
    public void Remove(string silo) => _silos.Remove(silo);

    /// <summary>The fleet at <paramref name="now"/>; <paramref name="utcNow"/> only stamps the answer.</summary>
    public FleetSummary Summarize(TimeSpan now, DateTime utcNow)
    {
        Forget(now);
        long active = 0, elements = 0;
        var rate = 0.0;
        var window = TimeSpan.Zero;
        var latency = new long[LatencyBuckets.Count];
        var errors = new Dictionary<string, long>(StringComparer.Ordinal);
        var errorsTotal = new Dictionary<string, long>(StringComparer.Ordinal);
        var top = new Dictionary<string, SequenceError>(StringComparer.Ordinal);
        foreach (var (silo, reports) in _silos)
        {
            var latest = reports[^1];
            var first = reports[0];
            active += latest.Stats.ActiveSequences;
            elements += latest.Stats.Elements;
            if (reports.Count >= 2)
            {
                var previous = reports[^2];
                var seconds = (latest.At - previous.At).TotalSeconds;
                rate += seconds > 0 ? Math.Max(0, latest.Stats.Elements - previous.Stats.Elements) / seconds : 0;
                window = latest.At - first.At > window ? latest.At - first.At : window;
                for (var i = 0; i < latest.Stats.Latency.Length && i < latency.Length; i++)
                {
                    latency[i] += Math.Max(0, latest.Stats.Latency[i] - At(first.Stats.Latency, i));
                }

                Count(errors, latest.Stats.Refusals, first.Stats.Refusals);
            }

            Count(errorsTotal, latest.Stats.Refusals, []);
            foreach (var entry in latest.Stats.Top)
            {
                // A sequence that moved between silos may be in two reports: the one that applied more elements is newer.
                if (!top.TryGetValue(entry.Sequence, out var known) || entry.N > known.N)
                {
                    top[entry.Sequence] = entry with { Silo = silo };
                }
            }
        }

        var largest = top.Values
            .OrderByDescending(e => e.Error)
            .ThenBy(e => e.Sequence, StringComparer.Ordinal)
            .Take(SiloStatsCollector.TopCount)
            .ToArray();
        return new FleetSummary(_silos.Count, active, rate, elements, LatencyBuckets.QuantileMs(latency, 0.50), LatencyBuckets.QuantileMs(latency, 0.99),
            errors, errorsTotal, largest, window.TotalSeconds, utcNow);
    }

    private void Forget(TimeSpan now)
    {
        foreach (var (silo, reports) in _silos)
        {
            if (reports[^1].At < now - SiloTimeout)
            {
                _silos.Remove(silo);
            }
        }
    }

    private static void Count(Dictionary<string, long> counts, long[] latest, long[] baseline)
    {
        for (var kind = 0; kind < latest.Length; kind++)
        {
            var delta = latest[kind] - At(baseline, kind);
            if (delta > 0)
            {
                var name = ((RnnErrorKind)kind).ToString();
                counts[name] = counts.GetValueOrDefault(name) + delta;
            }
        }
    }

    private static long At(long[] values, int index) => index < values.Length ? values[index] : 0;

    private readonly record struct Report(TimeSpan At, SiloStats Stats);
}
