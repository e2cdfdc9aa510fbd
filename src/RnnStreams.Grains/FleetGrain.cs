namespace RnnStreams.Grains;

/// <inheritdoc cref="IFleetGrain"/>
/// <remarks>The merge is <see cref="FleetView"/>'s; this grain only stamps arrivals with its silo's monotonic clock.</remarks>
public sealed class FleetGrain(TimeProvider time) : Grain, IFleetGrain
{
    private readonly FleetView _view = new();

    private TimeSpan Now => time.GetElapsedTime(0);

    public Task Report(SiloStats stats)
    {
        ArgumentNullException.ThrowIfNull(stats);
        _view.Add(stats, Now);
        return Task.CompletedTask;
    }

    public Task Leave(string silo)
    {
        _view.Remove(silo);
        return Task.CompletedTask;
    }

    public Task<FleetSummary> Summary() => Task.FromResult(_view.Summarize(Now, time.GetUtcNow().UtcDateTime));
}
