using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Protocol;
using RnnStreams.Core;

namespace RnnStreams.Client.Load;

/// <summary>
/// Elements through an MQTT broker (<c>--mqtt host:port</c>) as a device fleet sends them: each element published on
/// <c>{prefix}/{sequence}/in</c> at QoS 1, its answer the output that arrives on <c>{prefix}/{sequence}/out</c> (or the
/// refusal on <c>/error</c>). Models, starts and snapshots go through the Orleans gateway. An element whose output does
/// not come within the wait counts as unanswered (and is published again: the element number makes that safe).
/// </summary>
internal sealed class MqttLoadTarget : ILoadTarget
{
    private readonly GrainLoadTarget _control;
    private readonly IMqttClient _mqtt;
    private readonly string _prefix;
    private readonly string _where;
    private readonly TimeSpan _wait;
    private readonly ConcurrentDictionary<(string Sequence, long N), TaskCompletionSource<Answer>> _pending = new();
    private long _unanswered;
    private long _extra;
    private long _received;
    private int _inputSize = 1;

    private MqttLoadTarget(GrainLoadTarget control, IMqttClient mqtt, string prefix, string where, TimeSpan wait)
    {
        _control = control;
        _mqtt = mqtt;
        _prefix = prefix;
        _where = where;
        _wait = wait;
    }

    public string Description => $"MQTT {_where} (prefix {_prefix}; control through the Orleans gateway)";

    /// <summary>Elements whose output did not arrive within the wait.</summary>
    public long Unanswered => Interlocked.Read(ref _unanswered);

    /// <summary>The <c># mqtt:</c> report line.</summary>
    public string Report() => string.Create(CultureInfo.InvariantCulture,
        $"# mqtt: received={Interlocked.Read(ref _received)} unanswered={Unanswered} extra={Interlocked.Read(ref _extra)} (extra: outputs sent again for an element delivered twice, or after their wait)");

    public static async Task<MqttLoadTarget> ConnectAsync(GrainLoadTarget control, string hostPort, string prefix, TimeSpan wait, CancellationToken cancellation)
    {
        var (host, port) = ParseHostPort(hostPort);
        var mqtt = new MqttClientFactory().CreateMqttClient();
        var target = new MqttLoadTarget(control, mqtt, prefix, $"{host}:{port}", wait);
        mqtt.ApplicationMessageReceivedAsync += e =>
        {
            target.OnMessage(e.ApplicationMessage.Topic, e.ApplicationMessage.Payload);
            return Task.CompletedTask;
        };
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(host, port)
            .WithClientId($"rnnstreams-load-{Guid.NewGuid():N}")
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(true)
            .WithReceiveMaximum(ushort.MaxValue)
            .Build();
        await mqtt.ConnectAsync(options, cancellation);
        var subscribe = new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic($"{prefix}/+/out").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
            .WithTopicFilter(f => f.WithTopic($"{prefix}/+/error").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
            .Build();
        await mqtt.SubscribeAsync(subscribe, cancellation);
        return target;
    }

    public static (string Host, int Port) ParseHostPort(string text)
    {
        var colon = text.LastIndexOf(':');
        return colon < 0 ? (text, 1883) : (text[..colon], int.Parse(text[(colon + 1)..], CultureInfo.InvariantCulture));
    }

    public async Task<(RnnModel Model, int Version)> GetModelAsync(string name)
    {
        var (model, version) = await _control.GetModelAsync(name);
        _inputSize = model.InputSize;
        return (model, version);
    }

    public Task StartAsync(string sequence, string model, int version) => _control.StartAsync(sequence, model, version);

    public Task<SequenceSnapshot> SnapshotAsync(string sequence) => _control.SnapshotAsync(sequence);

    public async Task<StepResult> StepAsync(string sequence, long n, double[] x)
    {
        var answer = Expect(sequence, n);
        await PublishAsync(sequence, JsonSerializer.SerializeToUtf8Bytes(new { n, x }));
        var a = await WaitAsync(sequence, n, answer);
        return new StepResult(n, a.Y, a.ModelVersion, a.Duplicate);
    }

    public async Task<StepBatchResult> StepManyAsync(string sequence, long firstN, double[] inputs)
    {
        var width = _inputSize;
        var count = inputs.Length / width;
        var answers = Enumerable.Range(0, count).Select(i => Expect(sequence, firstN + i)).ToArray();
        var rows = Enumerable.Range(0, count).Select(i => inputs.AsSpan(i * width, width).ToArray()).ToArray();
        await PublishAsync(sequence, JsonSerializer.SerializeToUtf8Bytes(new { firstN, inputs = rows }));
        var results = new Answer[count];
        for (var i = 0; i < count; i++)
        {
            results[i] = await WaitAsync(sequence, firstN + i, answers[i]);
        }

        var size = results[0].Y.Length;
        var leading = results.TakeWhile(r => r.Duplicate).Count();
        return new StepBatchResult(firstN, count, size, [.. results.SelectMany(r => r.Y)], results[0].ModelVersion, leading, 0);
    }

    public bool IsTransient(Exception e) => e is NoOutputException || e is MqttRefusal { Kind: "Storage" or "Unavailable" } || (e is not MqttRefusal && _control.IsTransient(e));

    public bool IsGap(Exception e) => e is MqttRefusal { Kind: "Gap" } || _control.IsGap(e);

    public string KindOf(Exception e) => e is MqttRefusal r ? r.Kind : e is NoOutputException ? "NoOutput" : ((ILoadTarget)_control).KindOf(e);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _mqtt.DisconnectAsync();
        }
        catch (Exception)
        {
            // The broker may be gone already.
        }

        _mqtt.Dispose();
        await _control.DisposeAsync();
    }

    private TaskCompletionSource<Answer> Expect(string sequence, long n)
    {
        var answer = new TaskCompletionSource<Answer>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[(sequence, n)] = answer;
        return answer;
    }

    private async Task<Answer> WaitAsync(string sequence, long n, TaskCompletionSource<Answer> answer)
    {
        try
        {
            return await answer.Task.WaitAsync(_wait);
        }
        catch (TimeoutException)
        {
            Interlocked.Increment(ref _unanswered);
            throw new NoOutputException($"no output for element {n} of {sequence} within {_wait.TotalSeconds:0} s");
        }
        finally
        {
            _pending.TryRemove(new KeyValuePair<(string, long), TaskCompletionSource<Answer>>((sequence, n), answer));
        }
    }

    private async Task PublishAsync(string sequence, byte[] payload)
    {
        var message = new MqttApplicationMessageBuilder()
            .WithTopic($"{_prefix}/{sequence}/in")
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        var result = await _mqtt.PublishAsync(message);
        if (!result.IsSuccess && result.ReasonCode != MqttClientPublishReasonCode.NoMatchingSubscribers)
        {
            throw new IOException($"the broker refused the element: {result.ReasonCode} {result.ReasonString}");
        }
    }

    private void OnMessage(string topic, ReadOnlySequence<byte> payload)
    {
        Interlocked.Increment(ref _received);
        var parts = topic.Split('/');
        if (parts.Length < 3)
        {
            return;
        }

        var sequence = parts[^2];
        using var json = JsonDocument.Parse(payload);
        var root = json.RootElement;
        var n = root.TryGetProperty("n", out var np) ? np.GetInt64() : 0;
        if (parts[^1] == "error")
        {
            // A refusal names the message's first element: every element of that message (and after) waits in vain.
            var refusal = new MqttRefusal(root.GetProperty("kind").GetString() ?? "?", root.GetProperty("detail").GetString() ?? string.Empty);
            foreach (var (key, waiting) in _pending)
            {
                if (key.Sequence == sequence && key.N >= n)
                {
                    waiting.TrySetException(refusal);
                }
            }

            return;
        }

        if (!_pending.TryGetValue((sequence, n), out var answer))
        {
            Interlocked.Increment(ref _extra);
            return;
        }

        if (root.GetProperty("kind").GetString() == "step")
        {
            var y = root.GetProperty("y").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            var duplicate = root.TryGetProperty("duplicate", out var d) && d.GetBoolean();
            if (!answer.TrySetResult(new Answer(y, root.GetProperty("modelVersion").GetInt32(), duplicate)))
            {
                Interlocked.Increment(ref _extra);
            }
        }
    }

    private sealed record Answer(double[] Y, int ModelVersion, bool Duplicate);

    /// <summary>An element's output did not arrive within the wait.</summary>
    internal sealed class NoOutputException(string message) : TimeoutException(message);

    /// <summary>A refusal published on the error topic: its problem kind and detail.</summary>
    internal sealed class MqttRefusal(string kind, string detail) : Exception($"{kind}: {detail}")
    {
        public string Kind { get; } = kind;
    }
}
