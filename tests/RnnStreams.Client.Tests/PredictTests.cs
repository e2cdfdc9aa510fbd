using System.Globalization;
using RnnStreams.Core;
using RnnStreams.TestSupport;

namespace RnnStreams.Client.Tests;

public sealed class PredictTests : IDisposable
{
    private readonly ScratchFolder _dir = new("rnn-predict-");

    public void Dispose() => _dir.Dispose();

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await Cli.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string DemoModel => Path.Combine(Repository.Root, "silo", "RnnStreams.Silo", "models", "worked-example.json");

    [Fact]
    public async Task Predict_WorkedExample_PrintsHeaderAndRoundTripOutputs()
    {
        var (code, output, error) = await Run("predict", "--model", DemoModel, "--input", _dir.Write("x.csv", "x\n1\n2\n3\n"));

        Assert.Equal(0, code);
        Assert.Equal(string.Empty, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("n,y_0", lines[0]);
        var h = 0.0;
        for (var t = 1; t <= 3; t++)
        {
            h = Math.Tanh((0.5 * t) + (0.3 * h) + 0.1);
            var fields = lines[t].Split(',');
            Assert.Equal(t.ToString(CultureInfo.InvariantCulture), fields[0]);
            Assert.Equal((0.4 * h) + 0.2, double.Parse(fields[1], CultureInfo.InvariantCulture), 1e-15);
        }
    }

    [Fact]
    public async Task Predict_ReadsATimestampValueCsv_AsTrainDoes_AndColumnsByName()
    {
        var series = _dir.Write("series.csv", "timestamp,value,other\n1959-01-01,1,9\n1959-02-01,2,9\n1959-03-01,3,9\n");
        var plain = _dir.Write("x.csv", "1\n2\n3\n");
        var expected = (await Run("predict", "--model", DemoModel, "--input", plain)).Out;

        var byName = await Run("predict", "--model", DemoModel, "--input", series, "--column", "value");
        Assert.Equal((0, expected), (byName.Code, byName.Out));
        var byNumber = await Run("predict", "--model", DemoModel, "--input", series, "--column", "2");
        Assert.Equal((0, expected), (byNumber.Code, byNumber.Out));

        // Two numeric columns for a model of one input: says so and how to choose.
        var ambiguous = await Run("predict", "--model", DemoModel, "--input", series);
        Assert.Equal(1, ambiguous.Code);
        Assert.Contains("2 numeric column(s)", ambiguous.Err);
        Assert.Contains("--column", ambiguous.Err);

        var missing = await Run("predict", "--model", DemoModel, "--input", series, "--column", "nope");
        Assert.Equal(1, missing.Code);
        Assert.Contains("no column 'nope' in the header (timestamp, value, other)", missing.Err);
    }

    [Fact]
    public async Task Predict_TwoLayersWithH0_EqualsKernelBitForBit()
    {
        var random = new Random(5);
        double[] Fill(int n) => Enumerable.Range(0, n).Select(_ => random.NextDouble() - 0.5).ToArray();
        var model = new RnnModel("two", CellType.RnnTanh, OutputHead.Softmax, 2, 3, 3,
            [new RnnLayer(2, 3, Fill(6), Fill(9), Fill(3)), new RnnLayer(3, 3, Fill(9), Fill(9), Fill(3))], Fill(9), Fill(3));
        var modelPath = _dir.PathOf("two.json");
        ModelFile.Save(model, modelPath);
        var inputs = Enumerable.Range(0, 20).Select(_ => Fill(2)).ToArray();
        var h0 = Fill(6);
        var inputPath = _dir.Write("in.csv", string.Join('\n', inputs.Select(x => string.Join(',', x.Select(v => v.ToString("R", CultureInfo.InvariantCulture))))));
        var h0Path = _dir.Write("h0.csv", $"{string.Join(',', h0.Take(3).Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}\n{string.Join(',', h0.Skip(3).Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}\n");

        var (code, output, _) = await Run("predict", "--model", modelPath, "--input", inputPath, "--h0", h0Path);

        Assert.Equal(0, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("n,y_0,y_1,y_2", lines[0]);
        var state = h0.ToArray();
        var y = new double[3];
        for (var t = 0; t < inputs.Length; t++)
        {
            model.Step(inputs[t], state, y);
            Assert.Equal([t + 1.0, .. y], lines[t + 1].Split(',').Select(f => double.Parse(f, CultureInfo.InvariantCulture)).ToArray());
        }
    }

    [Fact]
    public async Task Predict_LstmWithH0AndC0_MatchesPyTorch()
    {
        using var vectors = System.Text.Json.JsonDocument.Parse(System.IO.File.ReadAllText(Path.Combine(Repository.Root, "tests", "reference", "torch_gated_vectors.json")));
        var c = vectors.RootElement.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "lstm_2layer_state");
        string Csv(System.Text.Json.JsonElement rows) =>
            string.Join('\n', rows.EnumerateArray().Select(r => string.Join(',', r.EnumerateArray().Select(v => v.GetDouble().ToString("R", CultureInfo.InvariantCulture))))) + "\n";

        var (code, output, error) = await Run("predict", "--model", _dir.Write("lstm.json", c.GetProperty("model").GetRawText()), "--input", _dir.Write("x.csv", Csv(c.GetProperty("inputs"))),
            "--h0", _dir.Write("h0.csv", Csv(c.GetProperty("h0"))), "--c0", _dir.Write("c0.csv", Csv(c.GetProperty("c0"))));

        Assert.True(code == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var expected = c.GetProperty("outputs").EnumerateArray().ToArray();
        Assert.Equal(expected.Length + 1, lines.Length);
        for (var t = 0; t < expected.Length; t++)
        {
            var actual = lines[t + 1].Split(',').Skip(1).Select(f => double.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var torch = expected[t].EnumerateArray().Select(v => v.GetDouble()).ToArray();
            Assert.Equal(torch.Length, actual.Length);
            for (var i = 0; i < torch.Length; i++)
            {
                Assert.True(Math.Abs(torch[i] - actual[i]) <= Math.Max(1e-12, 1e-9 * Math.Abs(torch[i])), $"y[{t + 1}][{i}]: torch {torch[i]:R}, predict {actual[i]:R}");
            }
        }

        var withoutC0 = await Run("predict", "--model", _dir.PathOf("lstm.json"), "--input", _dir.PathOf("x.csv"), "--h0", _dir.PathOf("h0.csv"));
        Assert.NotEqual(output, withoutC0.Out);
    }

    [Theory]
    [InlineData("missing model", "{dir}/none.json", "1\n", null, "does not exist")]
    [InlineData("malformed model", "{bad}", "1\n", null, "layers[0].W_hh: expected 1×1 (hiddenSize × hiddenSize), but row 0 has 2 columns")]
    [InlineData("not JSON", "{garbage}", "1\n", null, "not valid JSON")]
    [InlineData("wrong columns", "{demo}", "1,2\n", null, "2 numeric column(s) read per element; ")]
    [InlineData("NaN input", "{demo}", "1\nNaN\n", null, ":2: column 1: 'NaN' is not finite")]
    [InlineData("text input", "{demo}", "1\nabc\n", null, ":2: column 1: 'abc' is not a number")]
    [InlineData("empty input", "{demo}", "x\n", null, "no data rows")]
    [InlineData("h0 rows", "{demo}", "1\n", "0.1\n0.2\n", "expected 1 rows (one per layer) of 1 numbers, got 2 rows")]
    [InlineData("h0 width", "{demo}", "1\n", "0.1,0.2\n", ":1: expected 1 columns, got 2")]
    public async Task Predict_BadFiles_OneErrorLineAndNonZeroExit(string what, string model, string input, string? h0, string expected)
    {
        var modelPath = model switch
        {
            "{demo}" => DemoModel,
            "{bad}" => _dir.Write("bad.json", System.IO.File.ReadAllText(DemoModel).Replace("\"W_hh\": [[0.3]]", "\"W_hh\": [[0.3, 1]]")),
            "{garbage}" => _dir.Write("garbage.json", "{ \"name\": "),
            _ => model.Replace("{dir}", _dir.Root),
        };
        List<string> args = ["predict", "--model", modelPath, "--input", _dir.Write("x.csv", input)];
        if (h0 is not null)
        {
            args.AddRange(["--h0", _dir.Write("h0.csv", h0)]);
        }

        var (code, output, error) = await Run([.. args]);

        Assert.True(code == 1, what);
        Assert.Equal(string.Empty, output);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
    }

    [Theory]
    [InlineData("predict --model m.json", "error: Option '--input' is required.")]
    [InlineData("predict --model m.json --input x.csv --typo 1", "error: Unrecognized command or argument '--typo'.")]
    [InlineData("frobnicate", "error: Unrecognized command or argument 'frobnicate'.")]
    [InlineData("models", "error: Required command was not provided.\nsee: RnnStreams.Client models --help")]
    [InlineData("demo --devices zero", "--devices must be a whole number")]
    [InlineData("stream --sequence s --input x.csv --rate 0", "--rate must be a whole number from 1")]
    [InlineData("bench --outputs Sometimes", "--outputs is Always, WhenWatched or Never, got 'Sometimes'")]
    [InlineData("predict --model {demo} --input {x} --c0 {x}", "--c0: an initial cell state is only for lstm models")]
    public async Task Cli_UsageErrors_ExitWithCode2(string commandLine, string expected)
    {
        var x = _dir.Write("x.csv", "1\n");
        var (code, _, error) = await Run([.. commandLine.Split(' ').Select(a => a.Replace("{demo}", DemoModel).Replace("{x}", x))]);
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
    }

    [Fact]
    public async Task Predict_AsAProcess_PrintsNoStackTraceOnError()
    {
        var ok = await ProcessRunner.RunAsync(Repository.ClientDll, ["predict", "--model", DemoModel, "--input", _dir.Write("x.csv", "1\n2\n3\n")]);
        Assert.Equal(0, ok.ExitCode);
        Assert.Equal(["n,y_0", "1,0.41481982679921414", "2,0.5405484706371846", "3,0.5809011920666035"], ok.OutputLines);

        var bad = await ProcessRunner.RunAsync(Repository.ClientDll, ["predict", "--model", _dir.Write("m.json", "[]"), "--input", _dir.Write("x.csv", "1\n")]);
        Assert.Equal(1, bad.ExitCode);
        Assert.Equal($"error: {_dir.PathOf("m.json")}: file: expected a JSON object, got an array", bad.StandardError.Trim());
        Assert.DoesNotContain("   at ", bad.StandardError);
    }
}
