using System.Globalization;
using RnnStreams.Core;
using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>The silo and the client as real processes, talking over the gateway port.</summary>
[Collection(SiloCollection.Name)]
public sealed class EndToEndTests(SiloFixture fixture) : IDisposable
{
    private readonly ScratchFolder _dir = new("rnn-e2e-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Silo_PublishesTheDemoModelAtStartUp()
    {
        var list = await fixture.Client("models", "list");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Equal("model,version,published,description", list.OutputLines[0]);
        Assert.Contains(list.OutputLines, l => l.StartsWith("demo,1,", StringComparison.Ordinal) && l.EndsWith("\"demo: forecaster (season 12, log, gaussian) 1→gru 11→160×1→6→1\"", StringComparison.Ordinal));
        Assert.Contains(list.OutputLines, l => l.StartsWith("worked-example,1,", StringComparison.Ordinal) && l.EndsWith("\"worked-example: rnn_tanh 1→1×1→1 linear\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Stream_PrintsTheSameNumbersAsOfflinePredict()
    {
        var random = new Random(3);
        double[] Fill(int n) => Enumerable.Range(0, n).Select(_ => random.NextDouble() - 0.5).ToArray();
        var name = TestKeys.New("e2e-model");
        var model = new RnnModel(name, CellType.RnnTanh, OutputHead.Linear, 2, 5, 2,
            [new RnnLayer(2, 5, Fill(10), Fill(25), Fill(5)), new RnnLayer(5, 5, Fill(25), Fill(25), Fill(5))], Fill(10), Fill(2));
        var modelPath = _dir.PathOf("m.json");
        ModelFile.Save(model, modelPath);
        var input = _dir.Write("x.csv", "a,b\n" + string.Join('\n', Enumerable.Range(0, 150).Select(_ => string.Join(',', Fill(2).Select(v => v.ToString("R", CultureInfo.InvariantCulture))))));
        var h0 = _dir.Write("h0.csv", "0.1,0.2,0.3,0.4,0.5\n-0.1,-0.2,-0.3,-0.4,-0.5\n");

        var put = await fixture.Client("models", "put", "--file", modelPath);
        Assert.True(put.ExitCode == 0, put.ToString());
        Assert.Equal($"published {name} v1: {model}", put.StandardOutput.Trim());

        var offline = await ProcessRunner.RunAsync(Repository.ClientDll, ["predict", "--model", modelPath, "--input", input, "--h0", h0]);
        var single = await fixture.Client("stream", "--sequence", TestKeys.New("e2e"), "--input", input, "--model", name, "--h0", h0);
        var batched = await fixture.Client("stream", "--sequence", TestKeys.New("e2e"), "--input", input, "--model", name, "--h0", h0, "--batch", "32");
        var viaStream = await fixture.Client("stream", "--sequence", TestKeys.New("e2e"), "--input", input, "--model", name, "--h0", h0, "--batch", "10", "--via", "stream");

        Assert.True(offline.ExitCode == 0, offline.ToString());
        Assert.True(single.ExitCode == 0, single.ToString());
        Assert.True(batched.ExitCode == 0, batched.ToString());
        Assert.Equal(151, offline.OutputLines.Length);
        Assert.Equal(offline.OutputLines, single.OutputLines);
        Assert.Equal(offline.OutputLines, batched.OutputLines);
        Assert.True(viaStream.ExitCode == 0, viaStream.ToString());
        Assert.Equal(offline.OutputLines, viaStream.OutputLines);
    }

    [Fact]
    public async Task Stream_WithARate_PacesTheElements_AndPrintsTheSameNumbers()
    {
        var input = _dir.Write("paced.csv", string.Join('\n', Enumerable.Range(1, 30).Select(t => (t / 30.0).ToString("R", CultureInfo.InvariantCulture))));
        var offline = await ProcessRunner.RunAsync(Repository.ClientDll, ["predict", "--model", Path.Combine(Repository.Root, "silo/RnnStreams.Silo/models/demo.json"), "--input", input]);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var paced = await fixture.Client("stream", "--sequence", TestKeys.New("paced"), "--input", input, "--rate", "40");
        clock.Stop();

        Assert.True(paced.ExitCode == 0, paced.ToString());
        Assert.Equal(offline.OutputLines, paced.OutputLines);
        // 30 elements at 40/s cannot take less than 29/40 s, however fast the machine (a lower bound, not a speed check).
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(29 / 40.0), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Stream_ResumesAfterTheLastAppliedElement()
    {
        var id = TestKeys.New("resume");
        var first = _dir.Write("first.csv", "1\n2\n3\n");
        var all = _dir.Write("all.csv", "1\n2\n3\n4\n5\n");
        var offline = await ProcessRunner.RunAsync(Repository.ClientDll, ["predict", "--model", Path.Combine(Repository.Root, "silo/RnnStreams.Silo/models/demo.json"), "--input", all]);

        var a = await fixture.Client("stream", "--sequence", id, "--input", first);
        var b = await fixture.Client("stream", "--sequence", id, "--input", all);

        Assert.True(a.ExitCode == 0 && b.ExitCode == 0, a + "\n" + b);
        Assert.Equal(offline.OutputLines[..4], a.OutputLines);
        Assert.Equal([offline.OutputLines[0], .. offline.OutputLines[4..]], b.OutputLines);
        Assert.Contains("resuming at 4", b.StandardError);
    }

    [Fact]
    public async Task Watch_SeesAnotherClientsElements_UntilTheSequenceEnds()
    {
        var id = TestKeys.New("watched");
        var watch = fixture.Client("watch", "--sequence", id, "--count", "3");
        // The watcher subscribes asynchronously; resend until it has seen three outputs, each time on a fresh sequence life.
        ProcessResult? streamed = null;
        for (var attempt = 0; attempt < 20 && !watch.IsCompleted; attempt++)
        {
            streamed = await fixture.Client("stream", "--sequence", id, "--input", _dir.Write("w.csv", "1\n2\n3\n"), "--reset");
            Assert.True(streamed.ExitCode == 0, streamed.ToString());
            await Task.WhenAny(watch, Task.Delay(TimeSpan.FromSeconds(2)));
        }

        var watched = await watch;
        Assert.True(watched.ExitCode == 0, watched.ToString());
        var rows = watched.OutputLines.Where(l => !l.StartsWith('#')).ToArray();
        Assert.Equal("n,y_0", rows[0]);
        Assert.Equal(4, rows.Length);

        // The watcher may join in the middle of one life of the sequence (each --reset starts a new one from h_0 with the
        // same inputs): every row is the streamed row of its n, and n goes up by one within a life or starts again at 1.
        var expected = streamed!.OutputLines[1..4];
        var previous = 0L;
        foreach (var row in rows[1..])
        {
            var n = long.Parse(row[..row.IndexOf(',')], CultureInfo.InvariantCulture);
            Assert.Equal(expected[n - 1], row);
            Assert.True(previous == 0 || n == previous + 1 || n == 1, $"n={n} after {previous}"); // the first row may be any n
            previous = n;
        }
    }

    [Fact]
    public async Task Stream_AppendsAFileOfNewReadings_FromN_ReadingTheTimestampValueCsvTrainReads()
    {
        var id = TestKeys.New("append");
        var model = Path.Combine(Repository.Root, "silo", "RnnStreams.Silo", "models", "worked-example.json");
        var all = _dir.Write("all.csv", "1\n2\n3\n4\n5\n");
        var offline = await ProcessRunner.RunAsync(Repository.ClientDll, ["predict", "--model", model, "--input", all]);
        Assert.True(offline.ExitCode == 0, offline.ToString());

        var first = await fixture.Client("stream", "--sequence", id, "--input", _dir.Write("first.csv", "timestamp,value\n2026-01,1\n2026-02,2\n2026-03,3\n"), "--column", "value", "--model", "worked-example");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(offline.OutputLines[..4], first.OutputLines);

        // A file of only the new readings, elements 4 and 5.
        var newer = _dir.Write("new.csv", "timestamp,value\n2026-04,4\n2026-05,5\n");
        var appended = await fixture.Client("stream", "--sequence", id, "--input", newer, "--from-n", "4");
        Assert.True(appended.ExitCode == 0, appended.ToString());
        Assert.Equal(offline.OutputLines[4..], appended.OutputLines.Where(l => !l.StartsWith("n,", StringComparison.Ordinal)));

        // Starting past the next element would leave a hole: refused, nothing sent.
        var hole = await fixture.Client("stream", "--sequence", id, "--input", newer, "--from-n", "8");
        Assert.Equal(1, hole.ExitCode);
        Assert.Contains("elements 6–7 would be missing", hole.StandardError);
    }

    [Fact]
    public async Task ImportedLstm_PublishedAndStreamedWithH0AndC0_PrintsWhatPredictPrints()
    {
        var name = TestKeys.New("imported-lstm");
        var import = await fixture.Client("models", "import", "--safetensors", Path.Combine(Repository.Root, "tests/reference/safetensors/lstm_f32.safetensors"),
            "--cell", "lstm", "--name", name, "--publish", "--out", _dir.PathOf("lstm.json")); // F32 tensors: a float32 model
        Assert.True(import.ExitCode == 0, import.ToString());
        Assert.Contains($"published {name} v1: {name}: lstm 3→4×2→2 linear", import.StandardOutput);

        var random = new Random(4);
        var input = _dir.Write("lx.csv", string.Join('\n', Enumerable.Range(0, 40).Select(_ => string.Join(',', Enumerable.Range(0, 3).Select(_ => (random.NextDouble() - 0.5).ToString("R", CultureInfo.InvariantCulture))))));
        var h0 = _dir.Write("lh0.csv", "0.1,0.2,0.3,0.4\n-0.1,-0.2,-0.3,-0.4\n");
        var c0 = _dir.Write("lc0.csv", "1,-1,0.5,-0.5\n0.25,0.75,-2,2\n");
        var offline = await ProcessRunner.RunAsync(Repository.ClientDll, ["predict", "--model", _dir.PathOf("lstm.json"), "--input", input, "--h0", h0, "--c0", c0]);
        var streamed = await fixture.Client("stream", "--sequence", TestKeys.New("lstm"), "--input", input, "--model", name, "--h0", h0, "--c0", c0, "--batch", "8");
        Assert.True(offline.ExitCode == 0, offline.ToString());
        Assert.True(streamed.ExitCode == 0, streamed.ToString());
        Assert.Equal(41, offline.OutputLines.Length);
        Assert.Equal(offline.OutputLines, streamed.OutputLines);
    }

    [Fact]
    public async Task Demo_StreamsHundredsOfDevices_AndReportsThroughput()
    {
        var demo = await fixture.Client("demo", "--devices", "120", "--steps", "25", "--show", "2", "--every", "5");

        Assert.True(demo.ExitCode == 0, demo.ToString());
        var done = demo.OutputLines[^1];
        Assert.StartsWith("# done: sequences=120 steps=3000 ", done);
        Assert.EndsWith("watched_outputs_in_order=yes", done);
        Assert.Matches(@"steps_per_s=\d+ p50_ms=\d+\.\d{3} p99_ms=\d+\.\d{3}", done);
        Assert.Equal(12, demo.OutputLines.Count(l => l.StartsWith("device-", StringComparison.Ordinal))); // n=1,5,...,25 for 2 devices
    }

    [Fact]
    public async Task Demo_StreamsTheCo2SeriesThroughTheTrainedModel_AndBeatsTheNaiveForecastOnTheHeldOutTail()
    {
        var demo = await fixture.Client("demo", "--devices", "3", "--show", "1", "--every", "100");

        Assert.True(demo.ExitCode == 0, demo.ToString());
        Assert.StartsWith("# done: sequences=3 steps=1404 ", demo.OutputLines[^1]); // 468 monthly values each
        var forecast = Assert.Single(demo.OutputLines, l => l.StartsWith("# forecast:", StringComparison.Ordinal));
        Assert.Contains("elements 375–468", forecast);
        var match = System.Text.RegularExpressions.Regex.Match(forecast, @"model RMSE (\d+\.\d+), naive \(last value\) RMSE (\d+\.\d+)");
        Assert.True(match.Success, forecast);
        var (model, naive) = (double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), double.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(model < 0.8 * naive, forecast);
        Assert.EndsWith("the model beats the naive forecast", forecast);
    }

    [Fact]
    public async Task Client_ReportsTypedErrorsFromTheSilo()
    {
        var unknown = await fixture.Client("stream", "--sequence", TestKeys.New("err"), "--input", _dir.Write("x.csv", "1\n"), "--model", "no-such-model");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Equal("error: UnknownModel: model 'no-such-model' does not exist", unknown.StandardError.Trim());

        var wide = await fixture.Client("stream", "--sequence", TestKeys.New("err"), "--input", _dir.Write("w.csv", "1,2\n"));
        Assert.Equal(1, wide.ExitCode);
        Assert.Equal("error: WrongSize: element 1 has 2 values; the model expects 1", wide.StandardError.Trim());

        var viaStream = await fixture.Client("stream", "--sequence", TestKeys.New("err"), "--input", _dir.Write("s.csv", "1,2\n3,4\n"), "--via", "stream");
        Assert.Equal(1, viaStream.ExitCode);
        Assert.Contains("# element 1 refused: element 1 has 2 values; the model expects 1", viaStream.StandardError);
        Assert.Contains("element(s) refused; the sequence stands at n=0", viaStream.StandardError);

        var invalid = await fixture.Client("models", "put", "--file", _dir.Write("bad.json", "{\"cell\":\"transformer\"}"));
        Assert.Equal(1, invalid.ExitCode);
        Assert.Contains("cell: unknown cell 'transformer'; expected rnn_tanh, rnn_relu, gru or lstm", invalid.StandardError);
    }

    [Fact]
    public async Task Client_WithoutASilo_FailsWithOneClearLine()
    {
        var result = await ProcessRunner.RunAsync(Repository.ClientDll, ["models", "list", "--gateway", $"127.0.0.1:{Repository.FreePort()}", "--connect-timeout", "2"]);
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: cannot reach a silo at 127.0.0.1:", result.StandardError.Trim());
        Assert.DoesNotContain("   at ", result.StandardError);
    }
}

/// <summary>Start-up failures of the silo process.</summary>
public sealed class SiloStartupTests
{
    [Fact]
    public async Task Silo_WithAMalformedSeedModel_ExitsNamingTheField()
    {
        var path = Path.Combine(Path.GetTempPath(), $"bad-seed-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, "{ \"name\": \"x\", \"cell\": \"rnn_tanh\", \"inputSize\": 1, \"hiddenSize\": 2, \"outputSize\": 1, \"layers\": [], \"W_hy\": [[1,1]], \"b_y\": [0] }");
        try
        {
            var result = await SiloProcess.RunToExitAsync(["--RnnStreams:SeedModels:0", path], TimeSpan.FromSeconds(90));
            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains("layers: a model needs at least one layer", result.StandardOutput + result.StandardError);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
