using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using RnnStreams.Http;

namespace RnnStreams.Silo;

/// <summary>The <c>Fence</c> section: how a silo cut off from its cluster notices it, refuses, and stops.</summary>
public sealed class FenceOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Fence";

    /// <summary>On by default when the silo is clustered (<c>ConnectionStrings:Redis</c>); a silo on its own has nobody to be cut off from.</summary>
    public bool? Enabled { get; set; }

    /// <summary>How often the membership table is read (and, when that fails, the other silos are called).</summary>
    public TimeSpan CheckPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Cut off this long — neither the membership table nor any other active silo answered — and the silo refuses
    /// calls to RnnStreams' grains and the HTTP API's requests at once (503 <c>Unavailable</c>) instead of letting them
    /// wait. Default: <c>Orleans:Membership:ProbeTimeout</c>.
    /// </summary>
    public TimeSpan? RefuseAfter { get; set; }

    /// <summary>
    /// Cut off this long and the silo stops (exit code 3): by then the others have declared it dead and moved its
    /// sequences. Default: Orleans' own failure-detection window, <c>MaxProbeTimeout</c> × <c>NumMissedProbesLimit</c>
    /// (the longest the others' probes can take to miss enough answers).
    /// </summary>
    public TimeSpan? StopAfter { get; set; }

    /// <summary>How long the graceful stop may take before the process exits anyway (with no network it can hang on writes).</summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Self-fencing. Orleans stops a silo that reads itself declared dead in the membership table, but a silo cut off from
/// the others and from the table cannot read it: it would run on, serving its clients from activations the cluster
/// has already moved elsewhere. This watchdog reads the membership table every <see cref="FenceOptions.CheckPeriod"/>
/// and, when that fails, calls every other active silo; when neither answered for <see cref="FenceOptions.RefuseAfter"/>
/// it refuses RnnStreams' grain calls and HTTP requests (typed, at once), after <see cref="FenceOptions.StopAfter"/> it logs
/// one line and stops the host, bounded by <see cref="FenceOptions.StopTimeout"/>. It also stops the silo as soon as the
/// table says it is dead. A Redis outage alone fences nobody (the silos still answer each other), nor does a silo
/// that knows no other silo (nobody can declare it dead).
/// </summary>
public sealed partial class MembershipFence : BackgroundService, IClusterAvailability, IIncomingGrainCallFilter
{
    /// <summary>The exit code of a silo that stopped itself.</summary>
    public const int ExitCode = 3;

    private readonly IServiceProvider _services;
    private readonly FenceOptions _options;
    private readonly TimeSpan _refuseAfter;
    private readonly TimeSpan _stopAfter;
    private readonly TimeSpan _retryAfter;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<MembershipFence> _logger;
    private readonly TimeProvider _time;
    private volatile ClusterUnavailable? _unavailable;
    private volatile CancellationTokenSource _cutOff = new();

    public MembershipFence(IServiceProvider services, IOptions<FenceOptions> options, IOptions<ClusterMembershipOptions> membership,
        IHostApplicationLifetime lifetime, ILogger<MembershipFence> logger, TimeProvider time)
    {
        _services = services;
        _options = options.Value;
        var probe = membership.Value.ProbeTimeout;
        _refuseAfter = _options.RefuseAfter ?? probe;
        _stopAfter = _options.StopAfter ?? membership.Value.MaxProbeTimeout * membership.Value.NumMissedProbesLimit;
        _retryAfter = probe * membership.Value.NumMissedProbesLimit; // by then the cluster has moved this silo's sequences
        _lifetime = lifetime;
        _logger = logger;
        _time = time;
    }

    /// <summary>Why requests are refused at once, while the silo is cut off; null otherwise.</summary>
    public ClusterUnavailable? Unavailable => _unavailable;

    /// <summary>Cancelled when the silo finds itself cut off (requests waiting on the cluster are answered then).</summary>
    public CancellationToken CutOff => _cutOff.Token;

    /// <summary>Refuses calls to RnnStreams' grains while cut off (Orleans' own calls go on, the fence's included).</summary>
    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (_unavailable is { } unavailable && context.InterfaceMethod?.DeclaringType?.Assembly == typeof(ISequenceGrain).Assembly)
        {
            throw new SiloUnavailableException(unavailable.Detail);
        }

        return context.Invoke();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var table = _services.GetRequiredService<IMembershipTable>();
        var grains = _services.GetRequiredService<IGrainFactory>();
        var self = _services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
        var membership = _services.GetRequiredService<IClusterMembershipService>();
        var others = Array.Empty<SiloAddress>();
        var active = false;
        var lastAnswer = _time.GetTimestamp();
        using var timer = new PeriodicTimer(_options.CheckPeriod, _time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var answered = false;
            try
            {
                using var bounded = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                bounded.CancelAfter(_options.CheckPeriod);
                var data = await table.ReadAllAsync(bounded.Token).WaitAsync(_options.CheckPeriod, _time, stoppingToken);
                answered = true;
                var entries = data.Members.Select(m => m.Item1).ToArray();
                var mine = entries.FirstOrDefault(e => e.SiloAddress.Equals(self));
                if (mine?.Status == SiloStatus.Dead)
                {
                    Stop($"the membership table says this silo ({self}) is dead");
                    return;
                }

                active |= mine?.Status == SiloStatus.Active;
                others = [.. entries.Where(e => e.Status == SiloStatus.Active && !e.SiloAddress.Equals(self)).Select(e => e.SiloAddress)];
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogTableUnreadable(_logger, e.Message);

                // Silos that joined since the last read are known from this silo's own view (gossip), not the table.
                others = [.. others.Union(membership.CurrentSnapshot.Members.Values
                    .Where(m => m.Status == SiloStatus.Active && !m.SiloAddress.Equals(self)).Select(m => m.SiloAddress))];
                answered = active && others.Length > 0 && await AnyAnswersAsync(grains, others, stoppingToken);
            }

            var now = _time.GetTimestamp();
            if (answered || !active || others.Length == 0)
            {
                lastAnswer = now;
                if (_unavailable is not null)
                {
                    _unavailable = null;
                    _cutOff = new CancellationTokenSource();
                    LogReconnected(_logger);
                }

                continue;
            }

            var silent = _time.GetElapsedTime(lastAnswer, now);
            if (silent >= _stopAfter)
            {
                Stop($"neither the membership table nor any of the {others.Length} other silos answered for {silent.TotalSeconds:F1} s (Fence:StopAfter {_stopAfter.TotalSeconds:F1} s): the cluster has declared this silo ({self}) dead by now");
                return;
            }

            if (silent >= _refuseAfter && _unavailable is null)
            {
                _unavailable = new ClusterUnavailable($"silo {self} is cut off from its cluster (no answer from the membership table or any other silo for {silent.TotalSeconds:F1} s); retry through another silo", _retryAfter);
                await _cutOff.CancelAsync();
                LogRefusing(_logger, silent.TotalSeconds, _stopAfter.TotalSeconds);
            }
        }
    }

    /// <summary>Whether any of the other silos answers a management call within the check period.</summary>
    private async Task<bool> AnyAnswersAsync(IGrainFactory grains, SiloAddress[] silos, CancellationToken cancellation)
    {
        var management = grains.GetGrain<IManagementGrain>(0); // a stateless worker: local, then a system target on each silo
        var calls = silos.Select(async silo =>
        {
            try
            {
                await management.GetRuntimeStatistics([silo]).WaitAsync(_options.CheckPeriod, _time, cancellation);
                return true;
            }
            catch (Exception) when (!cancellation.IsCancellationRequested)
            {
                return false;
            }
        }).ToList();
        while (calls.Count > 0)
        {
            var done = await Task.WhenAny(calls);
            if (await done)
            {
                return true;
            }

            calls.Remove(done);
        }

        return false;
    }

    private void Stop(string reason)
    {
        _unavailable ??= new ClusterUnavailable($"this silo is stopping: {reason}", _retryAfter);
        _cutOff.Cancel();
        LogFenced(_logger, reason, _options.StopTimeout.TotalSeconds);
        Environment.ExitCode = ExitCode;
        _lifetime.StopApplication();

        // A graceful stop writes the membership table and the sequences' state: with no network it waits on timeouts.
        var bound = _options.StopTimeout;
        _ = Task.Run(async () =>
        {
            await Task.Delay(bound);
            LogForcedExit(_logger, bound.TotalSeconds);
            ShutdownWatchdog.ExitNow(ExitCode);
        });
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "Membership fence: stopping this silo (exit code 3): {Reason}; the process exits in at most {Bound} s")]
    private static partial void LogFenced(ILogger logger, string reason, double bound);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Membership fence: the graceful stop did not finish in {Bound} s; exiting now")]
    private static partial void LogForcedExit(ILogger logger, double bound);

    [LoggerMessage(Level = LogLevel.Error, Message = "Membership fence: cut off from the cluster for {Seconds:F1} s; refusing RnnStreams calls and HTTP requests with Unavailable until it answers again (stop after {StopAfter:F1} s)")]
    private static partial void LogRefusing(ILogger logger, double seconds, double stopAfter);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Membership fence: the cluster answers again; serving")]
    private static partial void LogReconnected(ILogger logger);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Membership fence: the membership table did not answer: {Message}")]
    private static partial void LogTableUnreadable(ILogger logger, string message);
}

/// <summary>Registration of <see cref="MembershipFence"/>.</summary>
public static class MembershipFenceExtensions
{
    /// <summary>
    /// Adds the fence (section <c>Fence</c>) when <c>Fence:Enabled</c> is true, or unset and the silo is clustered: the
    /// watchdog, its grain call filter, and the HTTP API's <see cref="IClusterAvailability"/>.
    /// </summary>
    public static ISiloBuilder AddMembershipFence(this ISiloBuilder silo, IConfiguration configuration)
    {
        var section = configuration.GetSection(FenceOptions.Section);
        if (!(section.GetValue<bool?>(nameof(FenceOptions.Enabled)) ?? SiloHosting.IsClustered(configuration)))
        {
            return silo;
        }

        silo.Services.AddOptions<FenceOptions>().Bind(section);
        silo.Services.AddSingleton<MembershipFence>();
        silo.Services.AddHostedService(sp => sp.GetRequiredService<MembershipFence>());
        silo.Services.AddSingleton<IClusterAvailability>(sp => sp.GetRequiredService<MembershipFence>());
        silo.Services.AddSingleton<IIncomingGrainCallFilter>(sp => sp.GetRequiredService<MembershipFence>());
        return silo;
    }
}
