using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;

namespace RnnStreams.Mqtt;

/// <summary>
/// Delivers what a dead silo held. The broker keeps a silo's MQTT session after the silo is gone, with the elements it
/// had received and not acknowledged, and (a shared subscription's member) goes on queueing its share of the fleet's new
/// elements into it. Once Orleans' membership declares a silo dead, the active silo with the lowest address connects
/// with the dead silo's client id, handles everything the session gives it as its own ingress would (duplicates of
/// elements the dead silo had applied change nothing), leaves the shared subscription, and ends the session.
/// </summary>
public sealed partial class MqttSessionTakeover(
    IServiceProvider services,
    MqttIngress ingress,
    ILocalSiloDetails silo,
    IOptions<MqttOptions> options,
    ILogger<MqttSessionTakeover> logger) : BackgroundService
{
    /// <summary>A taken-over session is ended once it has handed over nothing for this long.</summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(2);

    private readonly HashSet<SiloAddress> _handled = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var membership = services.GetRequiredService<IClusterMembershipService>();
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stoppingToken))
            {
                var active = snapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToList();
                if (active.Count == 0 || !active.Min()!.Equals(silo.SiloAddress))
                {
                    continue; // the lowest active silo takes sessions over; the others leave it be
                }

                foreach (var dead in snapshot.Members.Values.Where(m => m.Status == SiloStatus.Dead).Select(m => m.SiloAddress))
                {
                    if (_handled.Add(dead))
                    {
                        await TakeOverAsync(dead, stoppingToken);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task TakeOverAsync(SiloAddress dead, CancellationToken stoppingToken)
    {
        var clientId = MqttConnection.ClientIdOf(options.Value, dead);
        using var client = new MqttClientFactory().CreateMqttClient();
        long received = 0;
        var last = Stopwatch.StartNew();
        var handling = new System.Collections.Concurrent.ConcurrentBag<Task>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            Interlocked.Increment(ref received);
            last.Restart();
            handling.Add(ingress.Accept(e));
            return Task.CompletedTask;
        };

        try
        {
            var result = await client.ConnectAsync(MqttConnection.OptionsFor(options.Value, clientId, (uint)options.Value.SessionExpiry.TotalSeconds), stoppingToken);
            if (result.IsSessionPresent)
            {
                LogTakingOver(logger, clientId);
                while (last.Elapsed < Quiet && !stoppingToken.IsCancellationRequested)
                {
                    await Task.Delay(200, stoppingToken);
                }

                await client.UnsubscribeAsync(new MqttTopics(options.Value.TopicPrefix).SharedInputs(options.Value.ShareGroup), stoppingToken);
                last.Restart();
                while (last.Elapsed < Quiet && !stoppingToken.IsCancellationRequested)
                {
                    await Task.Delay(200, stoppingToken);
                }
            }

            // Every message handled and acknowledged on this connection before the session ends: an element can wait
            // for its predecessor up to the reorder window.
            try
            {
                await Task.WhenAll(handling).WaitAsync(options.Value.ReorderWindow + TimeSpan.FromSeconds(10), stoppingToken);
            }
            catch (TimeoutException)
            {
                LogSlow(logger, clientId);
            }

            await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithSessionExpiryInterval(0).WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build(), stoppingToken);
            if (result.IsSessionPresent)
            {
                LogTookOver(logger, clientId, Interlocked.Read(ref received));
            }
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            _handled.Remove(dead); // tried again on the next membership change
            LogFailed(logger, clientId, e.GetBaseException().Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT: taking over the session of dead silo {ClientId}")]
    private static partial void LogTakingOver(ILogger logger, string clientId);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT: session {ClientId} taken over and ended; {Received} message(s) handled")]
    private static partial void LogTookOver(ILogger logger, string clientId, long received);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT: elements of session {ClientId} still in hand when it ends; they are applied, their acknowledgements lost with the session")]
    private static partial void LogSlow(ILogger logger, string clientId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT: could not take over session {ClientId}: {Reason}")]
    private static partial void LogFailed(ILogger logger, string clientId, string reason);
}
