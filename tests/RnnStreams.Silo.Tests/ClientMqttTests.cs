using System.Globalization;
using System.Text;
using RnnStreams.Core;
using RnnStreams.Core.Formats;
using RnnStreams.Core.Training;
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

    /// <summary>
    /// One model for a fleet, served: a fleet model trained on four devices of the committed fleet (each with its own
    /// offset, gain and noise), each device streaming its own series with its times — through the gateway, the HTTP API and
    /// the broker alike — scores on their held-out tails exactly as training reported them.
    /// </summary>
    [Fact]
    public async Task Demo_OfAFleetModel_EachDeviceItsOwnSeriesWithTimes_ScoresAsTrainingReported_OverEveryTransport()
    {
        var lines = File.ReadAllLines(Path.Combine(Repository.Root, "tests", "reference", "fleet", "devices.csv"));
        var csv = _dir.Write("fleet.csv", string.Join('\n', [lines[0], .. lines.Skip(1).Take(4 * 72)]) + "\n");
        var fleet = Csv.ReadFleet(csv, 0);
        var report = Trainer.TrainFleet(fleet, new TrainingOptions { Hidden = 4, Ensemble = 1, Name = TestKeys.New("fleet") });
        using (var http = new HttpClient { BaseAddress = fixture.Silo.Http })
        {
            var published = await http.PostAsync($"/v1/models/{report.Model.Name}", new StringContent(ModelFile.ToJson(report.Model), Encoding.UTF8, "application/json"));
            Assert.True(published.IsSuccessStatusCode, await published.Content.ReadAsStringAsync());
        }

        // Pooled over the four tails as the demo pools them: Σ RMSE² · n over Σ n.
        var count = report.Series.Sum(s => s.Report.ValidationCount);
        var rmse = Math.Sqrt(report.Series.Sum(s => s.Report.Rmse * s.Report.Rmse * s.Report.ValidationCount) / count);
        var inside = (int)Math.Round(report.Series.Sum(s => s.Report.Coverage80 * s.Report.ValidationCount));
        string[] demo = ["demo", "--devices", "4", "--model", report.Model.Name, "--series", csv, "--show", "1", "--every", "30"];
        string[][] transports = [["--gateway", fixture.Silo.Gateway], ["--url", fixture.Silo.Http.ToString()], ["--mqtt", Broker, "--url", fixture.Silo.Http.ToString()]];
        foreach (var transport in transports)
        {
            var run = await ProcessRunner.RunAsync(Repository.ClientDll, [.. demo, .. transport], TimeSpan.FromMinutes(2));

            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.Contains("each device streaming its own series of fleet.csv (4 series)", run.StandardError, StringComparison.Ordinal);
            var forecast = Assert.Single(run.OutputLines, l => l.StartsWith("# forecast: ", StringComparison.Ordinal));
            Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"elements 59–72 (the tail training never saw), {count} in all: model RMSE {rmse:F4}, "), forecast, StringComparison.Ordinal);
            Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"# intervals: {inside:N0} of {count:N0} values"), run.StandardOutput, StringComparison.Ordinal);
            Assert.Matches(@"# per device: model ÷ naive RMSE, geometric mean over the 4 devices [\d.]+; the model beats the naive forecast on \d of them", run.StandardOutput);
            Assert.Contains(run.OutputLines, l => l.StartsWith("device-0000  n=   60  ", StringComparison.Ordinal) && l.Contains("80 % interval [", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// The demo's series mistakes stop it before any sequence starts: more steps than the (shortest) series has, and a long
    /// CSV whose series' times go back, each with one error line naming the file.
    /// </summary>
    [Fact]
    public async Task Demo_StepsBeyondTheSeries_OrABadLongCsv_IsRefusedBeforeAnySequenceStarts()
    {
        var lines = File.ReadAllLines(Path.Combine(Repository.Root, "tests", "reference", "fleet", "devices.csv"));
        var fleet = _dir.Write("fleet.csv", string.Join('\n', [lines[0], .. lines.Skip(1).Take(2 * 72)]) + "\n");
        var tooLong = await ProcessRunner.RunAsync(Repository.ClientDll,
            ["demo", "--devices", "2", "--show", "0", "--model", "worked-example", "--series", fleet, "--steps", "100", "--url", fixture.Silo.Http.ToString()]);
        Assert.Equal(2, tooLong.ExitCode);
        Assert.Contains($"--steps 100 is longer than the shortest series (72 values in {fleet})", tooLong.StandardError, StringComparison.Ordinal);

        var single = _dir.Write("one.csv", "timestamp,value\n2020-01-01,1\n2020-02-01,2\n");
        var tooLongSingle = await ProcessRunner.RunAsync(Repository.ClientDll,
            ["demo", "--devices", "2", "--show", "0", "--model", "worked-example", "--series", single, "--steps", "3", "--url", fixture.Silo.Http.ToString()]);
        Assert.Equal(2, tooLongSingle.ExitCode);
        Assert.Contains($"--steps 3 is longer than the series (2 values in {single})", tooLongSingle.StandardError, StringComparison.Ordinal);

        var backwards = _dir.Write("back.csv", "device,timestamp,value\na,2020-02-01,1\na,2020-01-01,2\n");
        var bad = await ProcessRunner.RunAsync(Repository.ClientDll,
            ["demo", "--devices", "2", "--show", "0", "--model", "worked-example", "--series", backwards, "--url", fixture.Silo.Http.ToString()]);
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains($"{backwards}:3: a: time 2020-01-01 is not after its previous element's", bad.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("# demo:", bad.StandardError, StringComparison.Ordinal);
    }
}
