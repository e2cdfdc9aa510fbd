using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>
/// The client's stream, watch and demo through a real mosquitto (<c>--mqtt</c>) into a silo that consumes it, the worked
/// example its default model.
/// </summary>
[Collection(MqttCollection.Name)]
public sealed class ClientMqttTests(MqttFixture fixture) : IDisposable
{
    private readonly ScratchFolder _dir = new("rnn-mqtt-client-");

    public void Dispose() => _dir.Dispose();

    private string Broker => $"127.0.0.1:{fixture.Broker.Port}";

    [Fact]
    public async Task StreamAndWatch_OverMqtt_PrintTheWorkedExample()
    {
        var id = TestKeys.New("mqtt-worked");
        using var watch = await BackgroundClient.StartAsync(["watch", "--sequence", id, "--count", "3", "--mqtt", Broker], $"# watching rnn/{id}/out on {Broker}");

        var streamed = await ProcessRunner.RunAsync(Repository.ClientDll, ["stream", "--sequence", id, "--input", _dir.Write("x.csv", "1\n2\n3\n"), "--mqtt", Broker]);
        var watched = await watch.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(streamed.ExitCode == 0, streamed.ToString());
        Assert.Equal(ClientHttpTests.WorkedExample, streamed.OutputLines);
        Assert.Equal($"# over MQTT nobody can say where sequence {id} stands: sending from element 1", streamed.StandardError.Trim());
        Assert.True(watched.ExitCode == 0, watched.ToString());
        Assert.Equal(ClientHttpTests.WorkedExample, watched.OutputLines);
    }

    [Fact]
    public async Task Stream_OverMqtt_InBatches_AndAppendingFromN_PrintsTheSameNumbers()
    {
        var id = TestKeys.New("mqtt-batch");
        var first = await ProcessRunner.RunAsync(Repository.ClientDll, ["stream", "--sequence", id, "--input", _dir.Write("a.csv", "1\n2\n"), "--mqtt", Broker, "--batch", "2"]);
        var appended = await ProcessRunner.RunAsync(Repository.ClientDll, ["stream", "--sequence", id, "--input", _dir.Write("b.csv", "3\n"), "--from-n", "3", "--mqtt", Broker]);

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(ClientHttpTests.WorkedExample[..3], first.OutputLines);
        Assert.True(appended.ExitCode == 0, appended.ToString());
        Assert.Equal([ClientHttpTests.WorkedExample[0], ClientHttpTests.WorkedExample[3]], appended.OutputLines);
    }

    [Fact]
    public async Task Stream_OverMqtt_ARefusedElement_ExitsOneWithTheErrorTopicsKind()
    {
        var wide = await ProcessRunner.RunAsync(Repository.ClientDll, ["stream", "--sequence", TestKeys.New("mqtt-wide"), "--input", _dir.Write("w.csv", "1,2\n"), "--mqtt", Broker]);

        Assert.Equal(1, wide.ExitCode);
        Assert.Equal(string.Empty, wide.StandardOutput);
        Assert.EndsWith("error: WrongSize: element 1 has 2 values; the model expects 1", wide.StandardError.Trim());
    }

    [Fact]
    public async Task Demo_OverMqtt_ElementsThroughTheBroker_ControlThroughTheHttpApi()
    {
        var demo = await ProcessRunner.RunAsync(Repository.ClientDll,
            ["demo", "--devices", "3", "--steps", "12", "--show", "1", "--every", "6", "--model", "worked-example", "--mqtt", Broker, "--url", fixture.Silo.Http.ToString()],
            TimeSpan.FromMinutes(2));

        Assert.True(demo.ExitCode == 0, demo.ToString());
        Assert.StartsWith("# done: sequences=3 steps=36 ", demo.OutputLines[^1]);
        Assert.EndsWith("watched_outputs_in_order=yes", demo.OutputLines[^1]);
        Assert.Equal(3, demo.OutputLines.Count(l => l.StartsWith("device-0000  n=", StringComparison.Ordinal)));
        Assert.Contains($"over MQTT {Broker} (prefix rnn; control through HTTP http://127.0.0.1:", demo.StandardError);
    }
}
