using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;

namespace RnnStreams.Mqtt;

/// <summary>
/// The silo's one connection to the broker, kept up (connected again a second after it drops), shared by the ingress
/// (<see cref="MqttIngress"/>) and the egress (<see cref="MqttOutputSink"/>). Its MQTT 5 session outlives a crash of the
/// silo by <see cref="MqttOptions.SessionExpiry"/>, with the elements the silo had not acknowledged; its client id names
/// this silo's incarnation, so that another silo can take the session over (<see cref="MqttSessionTakeover"/>).
/// </summary>
public sealed partial class MqttConnection : BackgroundService
{
    private static readonly TimeSpan RetryPeriod = TimeSpan.FromSeconds(1);
    private readonly MqttOptions _options;
    private readonly ILogger<MqttConnection> _logger;
    private readonly TaskCompletionSource _firstConnect = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _loggedDown;
    private volatile bool _closed;

    public MqttConnection(IOptions<MqttOptions> options, ILocalSiloDetails silo, ILogger<MqttConnection> logger)
    {
        _options = options.Value;
        _logger = logger;
        ClientId = ClientIdOf(_options, silo.SiloAddress);
        Topics = new MqttTopics(_options.TopicPrefix);
        Client = new MqttClientFactory().CreateMqttClient();
    }

    /// <summary>This silo's client id: <c>{ShareGroup}-{silo address}</c>, one per silo incarnation.</summary>
    public string ClientId { get; }

    public MqttTopics Topics { get; }

    public IMqttClient Client { get; }

    /// <summary>Called after every (re)connect, before messages are awaited: the ingress subscribes.</summary>
    public Func<MqttClientConnectResult, Task>? Connected { get; set; }

    /// <summary>Completes once the first connection is up (or never, when the broker stays away).</summary>
    public Task FirstConnect => _firstConnect.Task;

    /// <summary>The client id of a silo incarnation (see <see cref="ClientId"/>).</summary>
    public static string ClientIdOf(MqttOptions options, SiloAddress silo) => $"{options.ShareGroup}-{silo.ToParsableString()}";

    /// <summary>Connection options for a client id (this silo's, or a dead silo's session to take over).</summary>
    public static MqttClientOptions OptionsFor(MqttOptions options, string clientId, uint sessionExpirySeconds)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(options.Host, options.Port)
            .WithClientId(clientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval(sessionExpirySeconds)
            .WithReceiveMaximum((ushort)options.ReceiveMaximum)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(15))
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (!string.IsNullOrEmpty(options.Username))
        {
            builder.WithCredentials(options.Username, options.Password);
        }

        return builder.Build();
    }

    /// <summary>Publishes at QoS 1; false (logged once per outage) when the broker is not connected or refused it.</summary>
    public async ValueTask<bool> PublishAsync(string topic, byte[] payload, CancellationToken cancellation = default)
    {
        if (!Client.IsConnected)
        {
            return false;
        }

        try
        {
            var message = new MqttApplicationMessageBuilder()
                .WithTopic(topic)
                .WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .WithContentType("application/json")
                .Build();
            var result = await Client.PublishAsync(message, cancellation);
            return result.ReasonCode is MqttClientPublishReasonCode.Success or MqttClientPublishReasonCode.NoMatchingSubscribers;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellation.IsCancellationRequested)
        {
            LogPublishFailed(_logger, topic, e.Message);
            return false;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var options = OptionsFor(_options, ClientId, (uint)_options.SessionExpiry.TotalSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!Client.IsConnected && !_closed)
            {
                try
                {
                    var result = await Client.ConnectAsync(options, stoppingToken);
                    if (Connected is { } connected)
                    {
                        await connected(result);
                    }

                    LogConnected(_logger, _options.Host, _options.Port, ClientId, result.IsSessionPresent);
                    _loggedDown = false;
                    _firstConnect.TrySetResult();
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    if (!_loggedDown)
                    {
                        LogDown(_logger, _options.Host, _options.Port, e.GetBaseException().Message);
                        _loggedDown = true;
                    }
                }
            }

            try
            {
                await Task.Delay(RetryPeriod, stoppingToken);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>Leaves the broker for good (the silo stops): the session is kept that many seconds with what is unacknowledged.</summary>
    public async Task DisconnectAsync(uint sessionExpirySeconds)
    {
        _closed = true;
        if (Client.IsConnected)
        {
            var disconnect = new MqttClientDisconnectOptionsBuilder()
                .WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection)
                .WithSessionExpiryInterval(sessionExpirySeconds)
                .Build();
            try
            {
                await Client.DisconnectAsync(disconnect);
            }
            catch (Exception e)
            {
                LogPublishFailed(_logger, "(disconnect)", e.Message);
            }
        }
    }

    public override void Dispose()
    {
        Client.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT: connected to {Host}:{Port} as {ClientId} (session present: {SessionPresent})")]
    private static partial void LogConnected(ILogger logger, string host, int port, string clientId, bool sessionPresent);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT: broker {Host}:{Port} not reachable ({Reason}); trying again every second")]
    private static partial void LogDown(ILogger logger, string host, int port, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT: could not publish on {Topic}: {Reason}")]
    private static partial void LogPublishFailed(ILogger logger, string topic, string reason);
}
