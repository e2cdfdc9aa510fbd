using System.Buffers;
using System.CommandLine;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Protocol;
using RnnStreams.Client.Load;
using RnnStreams.Core;

namespace RnnStreams.Client.Commands;

/// <summary>
/// <c>bench --mqtt HOST:PORT --gateway …|--redis …</c>: elements through an MQTT broker into a running cluster whose silos
/// consume it (<c>Mqtt:Enabled</c>), against the broker's own floor in the same run. Both closed loops over the same
/// number of device sequences, each publishing its next element once the answer to the last has arrived:
/// <list type="bullet">
/// <item><c>mqtt_steps_per_s</c>: element published on <c>rnn/{sequence}/in</c> → its output received on
/// <c>rnn/{sequence}/out</c> (through the silos: shared subscription, step, output published);</item>
/// <item><c>mqtt_floor_per_s</c>: message published → the same message received by a subscriber, no service between:
/// what the broker and this client alone allow.</item>
/// </list>
/// </summary>
internal static class MqttBench
{
    public static async Task<int> RunAsync(ParseResult args, BenchCommand.Options o, string broker, TextWriter stdout, CancellationToken cancellation)
    {
        var sequences = args.GetValue(o.Sequences) ?? 1000;
        var seconds = args.GetValue(o.Seconds) ?? 5;
        var rounds = args.GetValue(o.Rounds);
        var input = args.GetValue(o.Input);
        var hidden = args.GetValue(o.Hidden);
        var prefix = args.GetValue(o.MqttPrefix)!;

        var model = RandomModel.Create($"bench-mqtt-h{hidden}-d{input}", input, hidden, 1, 1, CellType.RnnTanh, seed: 42);
        var control = new GrainLoadTarget(await Connection.OpenAsync(args));
        await using var target = await MqttLoadTarget.ConnectAsync(control, broker, prefix, TimeSpan.FromSeconds(60), cancellation);
        var client = control.Client;
        await client.GetGrain<IModelGrain>(model.Name).PublishIfNone(ModelFile.ToJson(model));
        var run = $"mb{DateTime.UtcNow:HHmmss}{Random.Shared.Next(100, 999)}";
        var ids = Enumerable.Range(0, sequences).Select(i => $"{run}-{i}").ToArray();
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = cancellation },
            async (id, _) => await client.GetGrain<ISequenceGrain>(id).Start(new StartRequest(model.Name)));
        var x = Enumerable.Range(0, input).Select(i => Math.Sin(i)).ToArray();
        var next = new long[sequences];
        Array.Fill(next, 1);

        await using var echo = await Echo.ConnectAsync(broker, $"{prefix}-floor-{run}", cancellation);
        var service = new List<double>();
        var floor = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            service.Add(await ClosedLoopAsync(sequences, seconds, async i =>
            {
                await target.StepAsync(ids[i], next[i], x);
                next[i]++;
            }, cancellation));
            floor.Add(await ClosedLoopAsync(sequences, seconds, i => echo.RoundTripAsync(i), cancellation));
        }

        var mqtt = Median(service);
        var brokerFloor = Median(floor);
        stdout.WriteLine($"# bench --mqtt: {model}, {sequences} sequences in a closed loop, {seconds} s × {rounds} rounds, broker {broker}, {Environment.ProcessorCount} cores");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"mqtt_steps_per_s",-20} {mqtt,14:N1}  element published → its output received through the silos (rounds: {string.Join(", ", service.Select(v => v.ToString("F0", CultureInfo.InvariantCulture)))})"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"mqtt_floor_per_s",-20} {brokerFloor,14:N1}  message published → received by a subscriber, no service (rounds: {string.Join(", ", floor.Select(v => v.ToString("F0", CultureInfo.InvariantCulture)))})"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"mqtt_over_floor",-20} {mqtt / brokerFloor,14:F3}"));
        stdout.WriteLine(target.Report());
        stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["mqtt_steps_per_s"] = Math.Round(mqtt, 1),
            ["mqtt_floor_per_s"] = Math.Round(brokerFloor, 1),
            ["mqtt_over_floor"] = Math.Round(mqtt / brokerFloor, 3),
            ["mqtt_unanswered"] = target.Unanswered,
            ["sequences"] = sequences,
            ["seconds"] = seconds,
            ["rounds"] = rounds,
            ["hidden"] = hidden,
            ["input"] = input,
            ["cores"] = Environment.ProcessorCount,
        }));
        return target.Unanswered == 0 ? 0 : 1;
    }

    /// <summary>Each of <paramref name="loops"/> workers calls <paramref name="step"/> for its index again and again; completed calls per second.</summary>
    private static async Task<double> ClosedLoopAsync(int loops, int seconds, Func<int, Task> step, CancellationToken cancellation)
    {
        long done = 0;
        var stop = Stopwatch.StartNew();
        var until = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, loops).Select(async i =>
        {
            while (stop.Elapsed < until && !cancellation.IsCancellationRequested)
            {
                await step(i);
                Interlocked.Increment(ref done);
            }
        }));
        return Interlocked.Read(ref done) / stop.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>The broker alone: publishes on <c>{prefix}/{i}</c> and waits for its own subscription to hand the message back.</summary>
    private sealed class Echo : IAsyncDisposable
    {
        private readonly IMqttClient _client;
        private readonly string _prefix;
        private readonly ConcurrentDictionary<int, TaskCompletionSource> _waiting = new();
        private readonly byte[] _payload = JsonSerializer.SerializeToUtf8Bytes(new { n = 1, x = new[] { 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8 } });

        private Echo(IMqttClient client, string prefix)
        {
            _client = client;
            _prefix = prefix;
        }

        public static async Task<Echo> ConnectAsync(string broker, string prefix, CancellationToken cancellation)
        {
            var (host, port) = MqttLoadTarget.ParseHostPort(broker);
            var client = new MqttClientFactory().CreateMqttClient();
            var echo = new Echo(client, prefix);
            client.ApplicationMessageReceivedAsync += e =>
            {
                var topic = e.ApplicationMessage.Topic;
                if (int.TryParse(topic.AsSpan(topic.LastIndexOf('/') + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var i) && echo._waiting.TryRemove(i, out var waiting))
                {
                    waiting.TrySetResult();
                }

                return Task.CompletedTask;
            };
            await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId($"{prefix}-{Guid.NewGuid():N}")
                .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithCleanStart(true).WithReceiveMaximum(ushort.MaxValue).Build(), cancellation);
            await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter(f => f.WithTopic($"{prefix}/+").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)).Build(), cancellation);
            return echo;
        }

        public async Task RoundTripAsync(int i)
        {
            var back = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting[i] = back;
            await _client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic($"{_prefix}/{i}").WithPayload(_payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            await back.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await _client.DisconnectAsync();
            }
            catch (Exception)
            {
            }

            _client.Dispose();
        }
    }
}
