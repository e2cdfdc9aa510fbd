using RnnStreams.Core.Formats;
using RnnStreams.Core.Training;

namespace RnnStreams.Core.Tests.Training;

public class SeasonalTrainingTests
{
    private static string Reference(string file) => Path.Combine(AppContext.BaseDirectory, "Reference", file);

    private static double[] Series(string file) => Csv.ReadSeries(Reference(file));

    private static DateTime[] Times(string file) => Csv.ReadTimes(Reference(file))!;

    /// <summary>The demo model: <c>train</c>'s defaults on the CO₂ file (the client tests re-run it bit for bit).</summary>
    private static readonly Lazy<RnnModel> Demo = new(() => ModelFile.Load(Reference("demo.json")));

    // Issue 15's target: RMSE at most 1.1 × the best classical model on the same split (tests/reference/classical_baselines.txt:
    // CO2 SARIMA 0.3008, AirPassengers ETS 15.73). The default run measures 0.3030 and 17.25.
    [Fact]
    public void Train_Default_OnAirPassengers_IsWithinATenthOfTheBestClassicalModel_ItsIntervalsCoverTheirLevelWithinSevenPoints()
    {
        var series = Series("airpassengers.csv");
        var report = Trainer.Train(series, new TrainingOptions(), times: Times("airpassengers.csv"));

        Assert.Equal(CalendarKind.Month, report.Model.Forecaster!.Calendar);
        Assert.Equal(series.Length - (int)Math.Round(series.Length * 0.2), report.TrainCount);
        Assert.True(report.Rmse <= 1.1 * 15.73, $"RMSE {report.Rmse:G4} > 1.1 × ETS's 15.73");

        // The interval coverage within 7 points of its level (75.9 % and 89.7 %: SARIMA's own are 58.6 % and 79.3 % on this
        // tail) and CRPS under SARIMA's 10.18.
        Assert.InRange(report.Coverage80, 0.73, 0.87);
        Assert.InRange(report.Coverage95, 0.88, 1);
        Assert.True(report.Crps < 10.18, $"CRPS {report.Crps}");
    }

    [Fact]
    public void DemoModel_OnCo2_IsWithinATenthOfSarima_ItsIntervalsCoverTheirLevelWithinSevenPoints_AndASeasonAheadBeatsSarima()
    {
        var series = Series("co2_mauna_loa.csv");
        var report = Trainer.Evaluate(Demo.Value, series, 374, times: Times("co2_mauna_loa.csv"));

        Assert.True(report.Rmse <= 1.1 * 0.3008, $"RMSE {report.Rmse:G4} > 1.1 × SARIMA's 0.3008");
        Assert.InRange(report.Coverage80, 0.73, 0.87);
        Assert.InRange(report.Coverage95, 0.88, 1);
        Assert.Equal(83, report.SeasonAhead!.Count);
        Assert.True(report.SeasonAhead.Rmse < 0.6540, $"12 ahead {report.SeasonAhead.Rmse} ≥ ETS's 0.6540 (SARIMA 0.6606)");
        Assert.True(report.FalseAlarms <= 0.03, $"{report.FalseAlarms:P1} of the clean tail flagged");
    }

    [Fact]
    public void DemoModel_AnInjectedSpikeInTheCo2Tail_IsFlagged_AndItsEchoesAreNot()
    {
        var series = Series("co2_mauna_loa.csv");
        var times = Times("co2_mauna_loa.csv").Select(t => t.Ticks).ToArray();
        var spiked = series.ToArray();
        const int at = 420;
        spiked[at] += 2; // about 5 standard deviations of a one-step forecast there
        var model = Demo.Value;
        var details = new ForecastDetails(series.Length, 0.8, 0.99);
        Assert.Equal(-1, model.TryAdvance(spiked, times, new double[model.StateSize], new double[series.Length], details));

        Assert.True(details.IsAnomaly(at), $"surprise {details.Surprise[at]:F2}");
        Assert.True(spiked[at] > details.AnomalyUpper[at]);

        // The spike stays in the window: the next element and those a season later read it among their inputs, but the
        // forecasts made from it are not so far off that clean values after it are flagged — the spike is the only one.
        Assert.Equal([at], Enumerable.Range(0, series.Length).Where(details.IsAnomaly));
        var clean = new ForecastDetails(series.Length, 0.8, 0.99);
        model.TryAdvance(series, times, new double[model.StateSize], new double[series.Length], clean);
        Assert.False(clean.IsAnomaly(at));
    }

    [Fact]
    public void Train_Seasonal_TheModelFileServesRawValuesWithTheReportedErrors_AndIsDeterministicForASeed()
    {
        var series = Series("airpassengers.csv");
        var times = Times("airpassengers.csv");
        var options = new TrainingOptions { Hidden = 4, Epochs = 20, Ensemble = 2, Seed = 3, Name = "seasonal" };
        var report = Trainer.Train(series, options, times: times);

        var json = ModelFile.ToJson(report.Model);
        var reloaded = ModelFile.Parse(json);
        Assert.Equal((1, 1), (reloaded.InputSize, reloaded.OutputSize));
        Assert.Equal((11, 8), (reloaded.Network.InputSize, reloaded.HiddenSize));
        Assert.True(reloaded.Forecaster!.Log);
        Assert.False(reloaded.Scaling!.Residual);
        var again = Trainer.Evaluate(reloaded, series, report.TrainCount, times: times);
        Assert.Equal(report.Rmse, again.Rmse);
        Assert.Equal(report.ValidationCount, again.ValidationCount);
        Assert.Equal(json, ModelFile.ToJson(Trainer.Train(series, options, times: times).Model));

        // Without times the calendar counts from the training data's first month (January): the same forecasts.
        var counted = Trainer.Evaluate(reloaded, series, report.TrainCount);
        Assert.Equal(report.Rmse, counted.Rmse);
    }

    [Fact]
    public void SuitsLog_GrowingSwing_True_ConstantSwingOrANonPositiveValue_False()
    {
        var multiplicative = Enumerable.Range(0, 120).Select(t => (100 + (2.0 * t)) * (1 + (0.2 * Math.Sin(2 * Math.PI * t / 12)))).ToArray();
        var additive = Enumerable.Range(0, 120).Select(t => 100 + (2.0 * t) + (20 * Math.Sin(2 * Math.PI * t / 12))).ToArray();
        Assert.True(SeriesShape.SuitsLog(multiplicative, 120, 12));
        Assert.False(SeriesShape.SuitsLog(additive, 120, 12));
        multiplicative[5] = 0;
        Assert.False(SeriesShape.SuitsLog(multiplicative, 120, 12));
    }

    [Theory]
    [InlineData(CellType.Gru, 1)]
    [InlineData(CellType.Lstm, 2)]
    [InlineData(CellType.RnnTanh, 2)]
    public void Average_OneWideNetwork_GivesTheMeanOfTheMembersOutputs(CellType cell, int layers)
    {
        var members = Enumerable.Range(0, 3).Select(seed => new Network(cell, 3, 5, 2, layers, new Random(seed))).ToArray();
        var merged = Network.Average(members).ToModel("merged");
        var models = members.Select(m => m.ToModel("member")).ToArray();
        var random = new Random(7);
        var mergedState = new double[merged.StateSize];
        var states = models.Select(m => new double[m.StateSize]).ToArray();
        var y = new double[2];
        var memberY = new double[2];
        for (var t = 0; t < 9; t++)
        {
            double[] x = [random.NextDouble(), random.NextDouble() - 0.5, random.NextDouble() * 2];
            merged.Step(x, mergedState, y);
            var mean = new double[2];
            for (var m = 0; m < models.Length; m++)
            {
                models[m].Step(x, states[m], memberY);
                mean[0] += memberY[0] / models.Length;
                mean[1] += memberY[1] / models.Length;
            }

            Assert.Equal(mean[0], y[0], 1e-12);
            Assert.Equal(mean[1], y[1], 1e-12);
        }
    }
}
