namespace RnnStreams;

/// <summary>
/// The fleet's live summary (one grain, key 0): every silo reports its counters once a second
/// (<see cref="Report"/>); <see cref="Summary"/> merges the latest reports of the silos heard from in the last few
/// seconds. Kept in memory only: a new activation (its silo died) is filled again by the next round of reports.
/// </summary>
public interface IFleetGrain : IGrainWithIntegerKey
{
    /// <summary>A silo's cumulative counters and its sequences with the largest recent forecast error.</summary>
    Task Report(SiloStats stats);

    /// <summary>A silo that stops gracefully leaves the summary at once instead of after the silo timeout.</summary>
    Task Leave(string silo);

    /// <summary>The fleet now: active sequences, elements/s, step latency, refusals per kind, the largest forecast errors.</summary>
    Task<FleetSummary> Summary();
}
