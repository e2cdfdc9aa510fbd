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
/// refusal on <c>/error</c>). Models, starts and snapshots — MQTT has no message for them — go through a control target
/// (the Orleans gateway, or the HTTP API), or nowhere: a device with nothing but the broker (<c>stream --mqtt</c>,
/// <c>watch --mqtt</c>) streams to a sequence that starts on the silo's <c>Mqtt:DefaultModel</c>. An element whose
/// output does not come within the wait counts as unanswered (and is published again: the element number makes that safe).
/// </summary>
internal sealed class MqttLoadTarget : ILoadTarget
{
    private readonly ILoadTarget? _control;
    private readonly IMqttClient _mqtt;
    private readonly string _prefix;
    private readonly string _where;
    private readonly TimeSpan _wait;
    private readonly ConcurrentDictionary<(string Sequence, long N), TaskCompletionSource<Answer>> _pending = new();
    private readonly ConcurrentDictionary<Watcher, string> _watchers = new();
    private volatile bool _disposing;
    private long _unanswered;
    private long _extra;
    private long _received;
    private int _inputSize = 1;

    private MqttLoadTarget(ILoadTarget? control, IMqttClient mqtt, string prefix, string where, TimeSpan wait)
    {
        _control = control;
        _mqtt = mqtt;
        _prefix = prefix;
        _where = where;
        _wait = wait;
    }

    public string Description => $"MQTT {_where} (prefix {_prefix}{(_control is null ? string.Empty : $"; control through {_control.Description}")})";

    public bool HasControl => _control is not null;

    /// <summary>Elements whose output did not arrive within the wait.</summary>
    public long Unanswered => Interlocked.Read(ref _unanswered);

    /// <summary>The <c># mqtt:</c> report line.</summary>
    public string Report() => string.Create(CultureInfo.InvariantCulture,
        $"# mqtt: received={Interlocked.Read(ref _received)} unanswered={Unanswered} extra={Interlocked.Read(ref _extra)} (extra: outputs sent again for an element delivered twice, or after their wait)");

    /// <summary>
    /// Connects and subscribes to the out and error topics of <paramref name="sequences"/> (one sequence's id, or <c>+</c>
    /// for all); <paramref name="control"/> (may be null) answers what MQTT cannot.
    /// </summary>
    public static async Task<MqttLoadTarget> ConnectAsync(ILoadTarget? control, string hostPort, string prefix, TimeSpan wait, CancellationToken cancellation, string sequences = "+")
    {
        var (host, port) = ParseHostPort(hostPort);
        var mqtt = new MqttClientFactory().CreateMqttClient();
        var target = new MqttLoadTarget(control, mqtt, prefix, $"{host}:{port}", wait);
        mqtt.ApplicationMessageReceivedAsync += e => target.OnMessageAsync(e.ApplicationMessage.Topic, e.ApplicationMessage.Payload);
        mqtt.DisconnectedAsync += e =>
        {
            target.OnDisconnected(e.Exception ?? new IOException($"the MQTT broker at {host}:{port} closed the connection ({e.Reason})"));
            return Task.CompletedTask;
        };
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(host, port)
            .WithClientId($"rnnstreams-load-{Guid.NewGuid():N}")
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(true)
            .WithReceiveMaximum(ushort.MaxValue)
            .Build();
        try
        {
            await mqtt.ConnectAsync(options, cancellation);
        }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException && !cancellation.IsCancellationRequested)
        {
            mqtt.Dispose();
            throw new CliException($"cannot reach the MQTT broker at {host}:{port} ({e.Message})");
        }

        var subscribe = new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic($"{prefix}/{sequences}/out").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
            .WithTopicFilter(f => f.WithTopic($"{prefix}/{sequences}/error").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
            .Build();
        await mqtt.SubscribeAsync(subscribe, cancellation);
        return target;
    }

    /// <summary><c>host:port</c>, or <c>host</c> alone for port 1883.</summary>
    public static (string Host, int Port) ParseHostPort(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon < 0)
        {
            return (text, 1883);
        }

        return int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535 && colon > 0
            ? (text[..colon], port)
            : throw new CliException($"--mqtt wants host:port, got '{text}'", 2);
    }

    public async Task<(RnnModel Model, int Version)> GetModelAsync(string name)
    {
        var (model, version) = await Control.GetModelAsync(name);
        _inputSize = model.InputSize;
        return (model, version);
    }

    public Task StartAsync(string sequence, string model, int version) => Control.StartAsync(sequence, model, version);

    public Task StartAsync(string sequence, StartRequest request) => Control.StartAsync(sequence, request);

    public Task<SequenceSnapshot> SnapshotAsync(string sequence) => Control.SnapshotAsync(sequence);

    public Task ResetAsync(string sequence) => Control.ResetAsync(sequence);

    public Task EndAsync(string sequence) => Control.EndAsync(sequence);

    /// <summary>The sequence's <c>/out</c> messages (the connection subscribed to them), each read as the output stream's record.</summary>
    public Task<IAsyncDisposable> WatchAsync(string sequence, Func<SequenceOutput, Task> onOutput, Action<Exception> onFailure)
    {
        var watcher = new Watcher(this, onOutput, onFailure);
        _watchers[watcher] = sequence;
        return Task.FromResult<IAsyncDisposable>(watcher);
    }

    public async Task<StepResult> StepAsync(string sequence, long n, double[] x, DateTime time = default)
    {
        var answer = Expect(sequence, n);
        await PublishAsync(sequence, JsonSerializer.SerializeToUtf8Bytes(new { n, x, time = HttpLoadTarget.TimeOrNull(time) }));
        var a = await WaitAsync(sequence, n, answer);
        return new StepResult(n, a.Y, a.ModelVersion, a.Duplicate, Interval: a.Interval);
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

    public bool IsTransient(Exception e) =>
        e is NoOutputException || e is MqttRefusal { Kind: "Storage" or "Unavailable" } || (e is not MqttRefusal && _control is not null && _control.IsTransient(e));

    public bool IsGap(Exception e) => e is MqttRefusal { Kind: "Gap" } || (_control is not null && _control.IsGap(e));

    public string KindOf(Exception e) => e is MqttRefusal r ? r.Kind : e is NoOutputException ? "NoOutput" : _control is null ? e.GetType().Name : _control.KindOf(e);

    public async ValueTask DisposeAsync()
    {
        _disposing = true;
        try
        {
            await _mqtt.DisconnectAsync();
        }
        catch (Exception)
        {
            // The broker may be gone already.
        }

        _mqtt.Dispose();
        if (_control is not null)
        {
            await _control.DisposeAsync();
        }
    }

    private ILoadTarget Control => _control
        ?? throw new CliException("MQTT has no message to start, reset or end a sequence, or to ask where it stands: do that with --url or through the gateway", 2);

    private void OnDisconnected(Exception reason)
    {
        if (_disposing)
        {
            return;
        }

        foreach (var watcher in _watchers.Keys)
        {
            watcher.OnFailure(reason);
        }
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

    private async Task OnMessageAsync(string topic, ReadOnlySequence<byte> payload)
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
            var refusal = new MqttRefusal(root.GetProperty("kind").GetString() ?? "?", root.TryGetProperty("detail", out var detail) ? detail.GetString() ?? string.Empty : string.Empty);
            foreach (var (key, waiting) in _pending)
            {
                if (key.Sequence == sequence && key.N >= n)
                {
                    waiting.TrySetException(refusal);
                }
            }

            return;
        }

        if (parts[^1] == "out")
        {
            foreach (var (watcher, watched) in _watchers)
            {
                if (watched == sequence)
                {
                    await watcher.OnOutput(OutputJson.Read(root));
                }
            }
        }

        if (!_pending.TryGetValue((sequence, n), out var answer))
        {
            Interlocked.Increment(ref _extra);
            return;
        }

        if (root.GetProperty("kind").GetString() == "step")
        {
            var output = OutputJson.Read(root);
            var duplicate = root.TryGetProperty("duplicate", out var d) && d.GetBoolean();
            if (!answer.TrySetResult(new Answer(output.Y, output.ModelVersion, duplicate, output.Interval)))
            {
                Interlocked.Increment(ref _extra);
            }
        }
    }

    private sealed record Answer(double[] Y, int ModelVersion, bool Duplicate, ForecastInterval? Interval);

    /// <summary>An element's output did not arrive within the wait.</summary>
    internal sealed class NoOutputException(string message) : TimeoutException(message);

    /// <summary>A refusal published on the error topic: its problem kind and detail.</summary>
    internal sealed class MqttRefusal(string kind, string detail) : RefusedException(kind, detail, $"{kind}: {detail}");

    /// <summary>One <see cref="WatchAsync"/>: its callbacks, until disposed.</summary>
    private sealed class Watcher(MqttLoadTarget owner, Func<SequenceOutput, Task> onOutput, Action<Exception> onFailure) : IAsyncDisposable
    {
        public Func<SequenceOutput, Task> OnOutput { get; } = onOutput;

        public Action<Exception> OnFailure { get; } = onFailure;

        public ValueTask DisposeAsync()
        {
            owner._watchers.TryRemove(this, out _);
            return ValueTask.CompletedTask;
        }
    }
}
