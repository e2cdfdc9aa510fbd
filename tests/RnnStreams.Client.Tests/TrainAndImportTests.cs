using System.Globalization;
using System.Text.Json;
using RnnStreams.Core;
using RnnStreams.Core.Formats;
using RnnStreams.Core.Training;
using RnnStreams.TestSupport;

namespace RnnStreams.Client.Tests;

public sealed class TrainAndImportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rnn-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Models => Path.Combine(Repository.Root, "silo", "RnnStreams.Silo", "models");

    private static string Fixture(string file) => Path.Combine(Repository.Root, "tests", "reference", "safetensors", file);

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await Cli.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Train_WritesAServableModel_ReportsAgainstTheNaiveForecasts_AndShowsProgress()
    {
        var random = new Random(8);
        var lines = Enumerable.Range(0, 200).Select(t => string.Create(CultureInfo.InvariantCulture,
            $"2000-{(t % 12) + 1:D2}-01,{50 + (0.05 * t) + (2 * Math.Sin(2 * Math.PI * t / 12)) + (0.05 * random.NextDouble()):R}"));
        var series = Path.Combine(_dir, "series.csv");
        File.WriteAllLines(series, ["timestamp,value", .. lines]);
        var modelPath = Path.Combine(_dir, "m.json");

        var (code, output, error) = await Run("train", "--input", series, "--out", modelPath, "--cell", "lstm", "--hidden", "8", "--epochs", "120", "--seed", "3", "--seasonal", "off");

        Assert.True(code == 0, error);
        Assert.Contains("the model beats the naive forecast", output);
        Assert.Contains("on the first 160 values", output);
        Assert.Matches(@"model\s+\d", output);
        Assert.Contains("epoch   120/120 [##############################] loss ", error);
        var model = ModelFile.Load(modelPath);
        Assert.Equal((CellType.Lstm, 8, "m"), (model.Cell, model.HiddenSize, model.Name));
        Assert.NotNull(model.Scaling);

        var values = Path.Combine(_dir, "values.csv");
        File.WriteAllLines(values, Csv.ReadSeries(series).Select(Csv.Format));
        var predicted = await Run("predict", "--model", modelPath, "--input", values);
        Assert.True(predicted.Code == 0, predicted.Err);
        Assert.Equal(201, predicted.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Train_ByDefault_IsTheSeasonalForecaster_WithIntervals_AndReportsEveryScore()
    {
        var series = Path.Combine(Repository.Root, "tests", "reference", "airpassengers.csv");
        var modelPath = Path.Combine(_dir, "air.json");

        var (code, output, error) = await Run("train", "--input", series, "--out", modelPath, "--hidden", "4", "--ensemble", "2");

        Assert.True(code == 0, error);
        Assert.Contains("seasonal forecaster (season 12): the network forecasts the seasonal difference, its change, the change less a seasonal profile of log(value)", output);
        Assert.Contains("sin and cos of the month of each element's time; the forecast is their mean; the model file serves raw values", output);
        Assert.Contains("the model averages 2 networks (seeds 1…2) as one of H=8", output);
        Assert.Matches(@"drift\s+\d", output);
        Assert.Matches(@"intervals: [\d.]+ % of the held-out values inside their 80 % interval, [\d.]+ % inside their 95 % interval; CRPS \d", output);
        Assert.Matches(@"anomalies: [\d.]+ % of the held-out values flagged", output);
        Assert.Matches(@"12 steps ahead \(from each of 18 held-out origins, rolled forward on its own forecasts\): RMSE [\d.]+, seasonal naive 52\.77", output);
        var model = ModelFile.Load(modelPath);
        Assert.Equal((1, 1, 11, 8), (model.InputSize, model.OutputSize, model.Network.InputSize, model.HiddenSize));
        Assert.True(model.HasIntervals);
    }

    [Theory]
    [InlineData("--targets", "seasonal,trend", "unknown target 'trend'")]
    [InlineData("--seasonal", "maybe", "maybe")]
    public async Task Train_BadSeasonalOption_IsAUsageError(string option, string value, string message)
    {
        var series = Path.Combine(Repository.Root, "tests", "reference", "airpassengers.csv");
        var (code, _, error) = await Run("train", "--input", series, "--out", Path.Combine(_dir, "bad.json"), option, value);
        Assert.Equal(2, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    /// <summary>The first <paramref name="devices"/> devices of the committed fleet (device,timestamp,value).</summary>
    private static string[] FleetLines(int devices)
    {
        var lines = File.ReadAllLines(Path.Combine(Repository.Root, "tests", "reference", "fleet", "devices.csv"));
        return [lines[0], .. lines.Skip(1).Take(72 * devices)];
    }

    [Fact]
    public async Task Train_ALongCsvWithADeviceColumn_OneModelForTheFleet_ReportedPerSeries_AndComparedWithAModelEach()
    {
        var fleet = Path.Combine(_dir, "fleet.csv");
        File.WriteAllLines(fleet, FleetLines(4));
        var modelPath = Path.Combine(_dir, "fleet.json");

        var (code, output, error) = await Run("train", "--input", fleet, "--out", modelPath, "--hidden", "4", "--ensemble", "1", "--compare");

        Assert.True(code == 0, error);
        Assert.Contains($"one model for the 4 series of {fleet}, each in units of its own scale; held out: the last 20 % of each (56 values)", output);
        Assert.Matches(@"series\s+RMSE\s+alone\s+naive\s+seasonal\s+inside 80 %", output);
        Assert.Matches(@"device-003\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+ %", output);
        Assert.Matches(@"fleet model ÷ a model per series RMSE, geometric mean over the series: [\d.]+ \(the fleet model better on \d of 4\)", output);
        Assert.Contains("training a model on each of the 4 series alone", error);
        var model = ModelFile.Load(modelPath);
        Assert.True(model.Forecaster!.SeriesScale);

        // A folder of one CSV per series is the same fleet: the same model.
        var folder = Directory.CreateDirectory(Path.Combine(_dir, "devices")).FullName;
        foreach (var series in Csv.ReadFleet(fleet, 0))
        {
            File.WriteAllLines(Path.Combine(folder, series.Name + ".csv"),
                ["timestamp,value", .. series.Times!.Select((t, i) => string.Create(CultureInfo.InvariantCulture, $"{t:yyyy-MM-dd},{series.Values[i]:R}"))]);
        }

        var fromFolder = await Run("train", "--input", folder, "--out", Path.Combine(_dir, "folder.json"), "--hidden", "4", "--ensemble", "1", "--name", "fleet");
        Assert.True(fromFolder.Code == 0, fromFolder.Err);
        Assert.Equal(File.ReadAllText(modelPath), File.ReadAllText(Path.Combine(_dir, "folder.json")));
    }

    [Fact]
    public async Task Train_FleetMistakes_AreUsageOrDataErrors()
    {
        var fleet = Path.Combine(_dir, "fleet.csv");
        File.WriteAllLines(fleet, FleetLines(2));
        var unknown = await Run("train", "--input", fleet, "--out", Path.Combine(_dir, "x.json"), "--sequence-column", "sensor");
        Assert.NotEqual(0, unknown.Code);
        Assert.Contains("no column 'sensor' in the header (device, timestamp, value)", unknown.Err, StringComparison.Ordinal);

        var air = Path.Combine(Repository.Root, "tests", "reference", "airpassengers.csv");
        var single = await Run("train", "--input", air, "--out", Path.Combine(_dir, "x.json"), "--compare");
        Assert.Equal(2, single.Code);
        Assert.Contains("--compare is for a fleet", single.Err, StringComparison.Ordinal);

        var empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        var none = await Run("train", "--input", empty, "--out", Path.Combine(_dir, "x.json"));
        Assert.Equal(2, none.Code);
        Assert.Contains("no .csv files", none.Err, StringComparison.Ordinal);

        var shuffled = Path.Combine(_dir, "shuffled.csv");
        var lines = FleetLines(1);
        File.WriteAllLines(shuffled, [lines[0], lines[2], lines[1], .. lines[3..]]);
        var order = await Run("train", "--input", shuffled, "--out", Path.Combine(_dir, "x.json"));
        Assert.NotEqual(0, order.Code);
        Assert.Contains(":3: device-000: time", order.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "x.json")));
    }

    [Fact]
    public void DemoModel_IsTheReadmesTrainingRun_AndBeatsBothNaiveForecastsOnTheTailItNeverSaw()
    {
        var path = Path.Combine(Models, "co2_mauna_loa.csv");
        var series = Csv.ReadSeries(path);
        var times = Csv.ReadTimes(path);
        var demo = ModelFile.Load(Path.Combine(Models, "demo.json"));
        var report = Trainer.Evaluate(demo, series, firstScored: 374, times: times);
        Assert.Equal(94, report.ValidationCount);
        Assert.True(report.Rmse < 0.3 * report.NaiveRmse && report.Rmse < report.SeasonalRmse, $"RMSE {report.Rmse}, naive {report.NaiveRmse}, seasonal {report.SeasonalRmse}");

        // The README's command (train --input …co2_mauna_loa.csv --out …demo.json --name demo: the defaults) gives this very file.
        var again = Trainer.Train(series, new TrainingOptions { Name = "demo" }, times: times);
        Assert.Equal(ModelFile.ToJson(demo), ModelFile.ToJson(again.Model));
    }

    [Theory]
    [InlineData("float64", 1e-9)] // PyTorch's run is float64 from the saved floats: the same numbers
    [InlineData(null, 1e-6)] // as the file's tensors: F32, so a float32 model, which computes in float
    public async Task ModelsImport_AnLstmSavedByPyTorch_PredictsPyTorchsOutputs(string? dtype, double tolerance)
    {
        using var expected = JsonDocument.Parse(File.ReadAllText(Fixture("lstm_f32.json")));
        var modelPath = Path.Combine(_dir, "lstm.json");
        string[] asked = dtype is null ? [] : ["--dtype", dtype];
        var (code, output, error) = await Run(["models", "import", "--safetensors", Fixture("lstm_f32.safetensors"), "--cell", "lstm", "--name", "imported", "--out", modelPath, .. asked]);
        Assert.True(code == 0, error);
        Assert.Contains("wrote", output);
        Assert.Equal(dtype == "float64" ? ModelPrecision.Float64 : ModelPrecision.Float32, ModelFile.Load(modelPath).Precision);

        var inputs = Path.Combine(_dir, "x.csv");
        File.WriteAllLines(inputs, expected.RootElement.GetProperty("inputs").EnumerateArray()
            .Select(r => string.Join(',', r.EnumerateArray().Select(v => v.GetDouble().ToString("R", CultureInfo.InvariantCulture)))));
        var predicted = await Run("predict", "--model", modelPath, "--input", inputs);
        Assert.Equal(0, predicted.Code);
        var rows = predicted.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1..];
        var torch = expected.RootElement.GetProperty("outputs").EnumerateArray().ToArray();
        Assert.Equal(torch.Length, rows.Length);
        for (var t = 0; t < rows.Length; t++)
        {
            var ours = rows[t].Split(',').Skip(1).Select(f => double.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var theirs = torch[t].EnumerateArray().Select(v => v.GetDouble()).ToArray();
            for (var o = 0; o < ours.Length; o++)
            {
                Assert.True(Math.Abs(ours[o] - theirs[o]) <= tolerance * Math.Max(1, Math.Abs(theirs[o])), $"y[{t + 1}][{o}]: {ours[o]:R} vs torch {theirs[o]:R}");
            }
        }
    }

    [Fact]
    public async Task ModelsImport_ATruncatedFile_OneErrorLine()
    {
        var bytes = File.ReadAllBytes(Fixture("gru_f64.safetensors"));
        var truncated = Path.Combine(_dir, "cut.safetensors");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var (code, output, error) = await Run("models", "import", "--safetensors", truncated, "--cell", "gru", "--name", "x");
        Assert.Equal(1, code);
        Assert.Equal(string.Empty, output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"error: {truncated}", line);

        var wrongCell = await Run("models", "import", "--safetensors", Fixture("gru_f64.safetensors"), "--cell", "lstm", "--name", "x");
        Assert.Equal(1, wrongCell.Code);
        Assert.Contains("multiple of 4", wrongCell.Err);
    }

    [Fact]
    public async Task ModelsRandom_WritesGatedModels()
    {
        var path = Path.Combine(_dir, "r.json");
        var (code, _, error) = await Run("models", "random", "--name", "r", "--out", path, "--cell", "lstm", "--hidden", "5", "--layers", "2", "--input", "3");
        Assert.True(code == 0, error);
        var model = ModelFile.Load(path);
        Assert.Equal((CellType.Lstm, 5, 2, 3, 20), (model.Cell, model.HiddenSize, model.LayerCount, model.InputSize, model.StateSize));
        Assert.Equal(20 * 5, model.Layers[1].Whh.Length);
    }

    [Theory]
    [InlineData("train --input s.csv --out m.json --cell transformer", "--cell is gru, lstm")]
    [InlineData("train --input s.csv --out m.json --hidden 0", "--hidden must be a whole number")]
    [InlineData("train --input s.csv --out m.json --validation 1.5", "--validation must be a fraction")]
    [InlineData("train --input s.csv", "error: Option '--out' is required.")]
    [InlineData("train --input s.csv --out m.json --horizon 2", "--horizon must be 1 for a seasonal forecaster")]
    [InlineData("models import --safetensors f --cell gru", "error: Option '--name' is required.")]
    [InlineData("models import --safetensors f --cell conv --name x", "--cell is gru, lstm")]
    [InlineData("models import --safetensors f --cell gru --name x --dtype float16", "--dtype is float32 or float64, got 'float16'")]
    public async Task UsageErrors_ExitWithCode2(string commandLine, string expected)
    {
        var (code, _, error) = await Run(commandLine.Split(' '));
        Assert.Equal(2, code);
        Assert.Contains(expected, error);
    }
}
