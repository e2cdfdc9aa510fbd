using Microsoft.Extensions.Logging;

namespace RnnStreams.Grains;

/// <summary>
/// Sends the silo's <see cref="SiloStatsCollector"/> snapshot to the <see cref="IFleetGrain"/> once a second, from the
/// moment the silo is active until it stops (then it leaves the fleet at once). A report that fails is logged once per
/// failure streak and the next one carries on: the counters are cumulative.
/// </summary>
public sealed partial class FleetReporter(IGrainFactory grains, SiloStatsCollector stats, ILocalSiloDetails silo, ILogger<FleetReporter> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>How often the silo reports.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    private CancellationTokenSource? _stopping;
    private Task _loop = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(FleetReporter), ServiceLifecycleStage.Active, StartAsync, StopAsync);

    private Task StartAsync(CancellationToken cancellation)
    {
        _stopping = new CancellationTokenSource();
        _loop = Task.Run(() => ReportLoopAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task StopAsync(CancellationToken cancellation)
    {
        if (_stopping is null)
        {
            return;
        }

        await _stopping.CancelAsync();
        await _loop;
        _stopping.Dispose();
        try
        {
            await grains.GetGrain<IFleetGrain>(0).Leave(Name).WaitAsync(TimeSpan.FromSeconds(2), cancellation);
        }
        catch (Exception e)
        {
            LogLeaveFailed(logger, e.GetType().Name);
        }
    }

    private string Name => silo.SiloAddress.ToString();

    private async Task ReportLoopAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(Period);
        var failing = false;
        try
        {
            do
            {
                try
                {
                    await grains.GetGrain<IFleetGrain>(0).Report(stats.Snapshot(Name)).WaitAsync(Period * 5, stopping);
                    failing = false;
                }
                catch (Exception e) when (!stopping.IsCancellationRequested)
                {
                    if (!failing)
                    {
                        LogReportFailed(logger, e.GetType().Name, e.Message);
                    }

                    failing = true;
                }
            }
            while (await timer.WaitForNextTickAsync(stopping));
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Fleet summary: this silo's report did not reach the fleet grain ({Error}: {Message}); trying every second")]
    private static partial void LogReportFailed(ILogger logger, string error, string message);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Fleet summary: leaving the fleet failed ({Error}); the fleet grain forgets this silo within seconds")]
    private static partial void LogLeaveFailed(ILogger logger, string error);
}
