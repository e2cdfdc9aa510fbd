using System.Buffers;
using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;

namespace RnnStreams.Mqtt;

/// <summary>
/// Elements from devices: the silo consumes <c>$share/{group}/{prefix}/+/in</c> at QoS 1, so the silos of a cluster
/// split the fleet, and acknowledges a message only once its elements are applied (and stored as the sequence's
/// durability policy says). A message the silo dies holding is delivered again (the broker keeps it in the silo's
/// session; another silo takes the session over), and the element numbers make the second delivery a duplicate that
/// changes nothing: exactly once. A refusal (malformed payload, wrong size, NaN, a gap, an unknown model) is published
/// on <c>{prefix}/{sequence}/error</c> and the message acknowledged: no poison loop, the sequence's state unchanged.
/// </summary>
public sealed partial class MqttIngress(MqttConnection connection, SequenceReferences sequences, IOptions<MqttOptions> options, ILogger<MqttIngress> logger)
    : IHostedService
{
    private static readonly TimeSpan FirstGapDelay = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan MaxGapDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(2);
    private readonly MqttOptions _options = options.Value;
    private readonly CancellationTokenSource _stopping = new();
    private long _inFlight;
    private long _applied;
    private long _refused;

    /// <summary>Elements applied from MQTT messages (duplicates included).</summary>
    public long Applied => Interlocked.Read(ref _applied);

    /// <summary>Messages refused (published on an error topic).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        connection.Client.ApplicationMessageReceivedAsync += OnReceivedAsync;
        connection.Connected = async _ =>
        {
            var subscribe = new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter(f => f.WithTopic(connection.Topics.SharedInputs(_options.ShareGroup)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
                .Build();
            await connection.Client.SubscribeAsync(subscribe);
        };
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops taking elements (unsubscribes), lets those in hand finish for a few seconds, then leaves the broker: with
    /// nothing unacknowledged the session ends; else the broker keeps it for another silo to take over.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (connection.Client.IsConnected)
            {
                await connection.Client.UnsubscribeAsync(connection.Topics.SharedInputs(_options.ShareGroup), cancellationToken);
            }
        }
        catch (Exception e)
        {
            LogStopFailed(logger, e.Message);
        }

        var deadline = Stopwatch.StartNew();
        while (Interlocked.Read(ref _inFlight) > 0 && deadline.Elapsed < TimeSpan.FromSeconds(5) && !cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(50, CancellationToken.None);
        }

        var left = Interlocked.Read(ref _inFlight);
        await _stopping.CancelAsync();
        await connection.DisconnectAsync(left == 0 ? 0 : (uint)_options.SessionExpiry.TotalSeconds);
        LogStopped(logger, left);
    }

    /// <summary>The main connection's handler: hands the message over and returns at once.</summary>
    private Task OnReceivedAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        _ = Accept(e);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Takes one message of this silo's session or of a session it took over: handled in the background and
    /// acknowledged when handled. Returns the handling, for a taken-over session to await before it ends.
    /// </summary>
    internal Task Accept(MqttApplicationMessageReceivedEventArgs e)
    {
        var sequence = connection.Topics.SequenceOfInput(e.ApplicationMessage.Topic);
        if (sequence is null)
        {
            return Task.CompletedTask; // not ours (a subscription of another prefix): acknowledged as is
        }

        e.AutoAcknowledge = false;
        var payload = e.ApplicationMessage.Payload.ToArray(); // the client may reuse its buffer once this returns
        Interlocked.Increment(ref _inFlight);
        return HandleAsync(e, sequence, payload);
    }

    private async Task HandleAsync(MqttApplicationMessageReceivedEventArgs e, string sequence, byte[] payload)
    {
        var acknowledge = true;
        long n = 0;
        try
        {
            var input = MqttPayloads.ParseInput(new ReadOnlySequence<byte>(payload));
            n = input.FirstN;
            await ApplyAsync(sequence, input);
        }
        catch (RnnStreamsException refused)
        {
            Interlocked.Increment(ref _refused);
            await connection.PublishAsync(connection.Topics.Error(sequence), MqttPayloads.Error(refused, sequence, n));
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            acknowledge = false; // the silo stops: the broker delivers it again (to this session's next owner)
        }
        catch (Exception unexpected)
        {
            LogUnexpected(logger, unexpected, sequence, n);
            acknowledge = false;
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }

        if (acknowledge)
        {
            try
            {
                await e.AcknowledgeAsync(CancellationToken.None);
            }
            catch (Exception failed)
            {
                LogAckFailed(logger, sequence, n, failed.Message); // delivered again after a reconnect: a duplicate then
            }
        }
    }

    /// <summary>
    /// Applies the message's elements, waiting (up to <see cref="MqttOptions.ReorderWindow"/>) for a predecessor that
    /// another silo holds, and retrying while the cluster or storage is unavailable, until the silo stops.
    /// </summary>
    private async Task ApplyAsync(string sequence, MqttInput input)
    {
        var grain = sequences.Get(sequence);
        if (input.FirstN == 1)
        {
            await EnsureStartedAsync(grain, sequence);
        }

        var waited = Stopwatch.StartNew();
        var gapDelay = FirstGapDelay;
        var retryDelay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                if (input.Count == 1 && input.Inputs.Length == input.Width)
                {
                    var result = input.Times is [var time] ? await grain.StepAt(input.FirstN, input.Inputs, time) : await grain.Step(input.FirstN, input.Inputs);
                    if (result.Duplicate)
                    {
                        await RepublishAsync(sequence, result.N, result.Y, result.ModelVersion, input.Inputs);
                    }
                }
                else
                {
                    var result = input.Times is { } times ? await grain.StepManyAt(input.FirstN, input.Inputs, times) : await grain.StepMany(input.FirstN, input.Inputs);
                    for (var i = 0; i < result.Duplicates; i++)
                    {
                        await RepublishAsync(sequence, result.FirstN + i, result.Outputs.AsSpan(i * result.OutputSize, result.OutputSize).ToArray(), result.ModelVersion,
                            input.Inputs.AsSpan(i * input.Width, input.Width).ToArray());
                    }
                }

                Interlocked.Add(ref _applied, input.Count);
                return;
            }
            catch (ElementGapException gap) when (gap.ExpectedN < input.FirstN && waited.Elapsed < _options.ReorderWindow)
            {
                await Task.Delay(gapDelay, _stopping.Token); // its predecessor is on its way through another silo
                gapDelay = Min(gapDelay * 2, MaxGapDelay);
            }
            catch (Exception e) when (IsTransient(e) && !_stopping.IsCancellationRequested)
            {
                await Task.Delay(retryDelay, _stopping.Token);
                retryDelay = Min(retryDelay * 2, MaxRetryDelay);
            }
        }
    }

    /// <summary>
    /// Element 1 of a sequence that has not started: started on <see cref="MqttOptions.DefaultModel"/>, or refused with
    /// NotStarted when none is set. A sequence already started (on any model) goes on as it is.
    /// </summary>
    private async Task EnsureStartedAsync(ISequenceGrain grain, string sequence)
    {
        if (string.IsNullOrEmpty(_options.DefaultModel))
        {
            try
            {
                await grain.Snapshot();
            }
            catch (SequenceNotStartedException)
            {
                throw new SequenceNotStartedException(sequence, "start it first (POST /v1/sequences/{id}/start or the client's stream --model); Mqtt:DefaultModel is not set");
            }

            return;
        }

        try
        {
            await grain.Start(new StartRequest(_options.DefaultModel));
        }
        catch (SequenceAlreadyStartedException)
        {
        }
    }

    /// <summary>An element delivered twice: its output is published again (the first publish may have died with a silo).</summary>
    private ValueTask<bool> RepublishAsync(string sequence, long n, double[] y, int version, double[] x) =>
        connection.PublishAsync(connection.Topics.Output(sequence), MqttPayloads.Output(new SequenceOutput(sequence, n, y, version, X: x), duplicate: true));

    private static bool IsTransient(Exception e) => e is RnnStreamsException { Kind: RnnErrorKind.Storage } || RnnProblem.IsUnavailable(e);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    [LoggerMessage(Level = LogLevel.Error, Message = "MQTT: element(s) of {Sequence} from n={N} failed unexpectedly; not acknowledged (delivered again after a reconnect)")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string sequence, long n);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT: could not acknowledge element(s) of {Sequence} from n={N} ({Reason}); a redelivery is answered as a duplicate")]
    private static partial void LogAckFailed(ILogger logger, string sequence, long n, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT: leaving the shared subscription failed: {Reason}")]
    private static partial void LogStopFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT: ingress stopped; {Left} message(s) unacknowledged stay in the broker's session for another silo")]
    private static partial void LogStopped(ILogger logger, long left);
}
