using RnnStreams.Core.Training;

namespace RnnStreams.Core.Tests.Training;

public class TrainerTests
{
    /// <summary>A monthly-like series: trend, a 12-step season and a little noise.</summary>
    private static double[] Seasonal(int count, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(t => 300 + (0.12 * t) + (3 * Math.Sin(2 * Math.PI * t / 12)) + (1.2 * Math.Cos(4 * Math.PI * t / 12)) + (0.1 * ((random.NextDouble() * 2) - 1)))];
    }

    [Theory]
    [InlineData(CellType.Gru)]
    [InlineData(CellType.Lstm)]
    [InlineData(CellType.RnnTanh)]
    public void Train_OnASeasonalSeries_BeatsBothNaiveForecastsOnTheHeldOutTail(CellType cell)
    {
        var series = Seasonal(240, 3);
        var losses = new List<double>();
        var report = Trainer.Train(series, new TrainingOptions { Cell = cell, Hidden = 8, Window = 24, Epochs = 150, LearningRate = 0.01, Season = 12, Seed = 2, Seasonal = false },
            (epoch, loss) => losses.Add(loss));

        Assert.Equal(150, losses.Count);
        Assert.True(losses[^1] < losses[0] / 4, $"training loss {losses[0]:G4} → {losses[^1]:G4}");
        Assert.Equal((192, 48), (report.TrainCount, report.ValidationCount));
        Assert.True(report.Rmse < report.NaiveRmse && report.Rmse < report.SeasonalRmse,
            $"{cell}: RMSE {report.Rmse:G4}, naive {report.NaiveRmse:G4}, seasonal naive {report.SeasonalRmse:G4}");
        Assert.True(report.Mae < report.NaiveMae && report.Mae < report.SeasonalMae);
    }

    [Fact]
    public void Train_TheModelFileCarriesTheScaling_SoTheServedModelGivesTheReportedErrors()
    {
        var series = Seasonal(120, 4);
        var report = Trainer.Train(series, new TrainingOptions { Hidden = 4, Epochs = 20, Seed = 1, Name = "scaled", Seasonal = false });
        var reloaded = ModelFile.Parse(ModelFile.ToJson(report.Model));
        Assert.NotNull(reloaded.Scaling);
        Assert.True(reloaded.Scaling!.Residual);
        var again = Trainer.Evaluate(reloaded, series, report.TrainCount, 1, 12);
        Assert.Equal(report.Rmse, again.Rmse);
        Assert.Equal(report.Mae, again.Mae);
    }

    [Fact]
    public void Train_IsDeterministicForASeed()
    {
        var series = Seasonal(100, 5);
        var options = new TrainingOptions { Hidden = 4, Epochs = 10, Seed = 9 };
        Assert.Equal(ModelFile.ToJson(Trainer.Train(series, options).Model), ModelFile.ToJson(Trainer.Train(series, options).Model));
    }

    [Fact]
    public void Train_RefusesTooShortASeriesAndBadOptions()
    {
        var short_ = Assert.Throws<ArgumentException>(() => Trainer.Train(Seasonal(20, 1), new TrainingOptions { Window = 24 }));
        Assert.Contains("leaves", short_.Message, StringComparison.Ordinal);
        var nan = Seasonal(100, 1);
        nan[50] = double.NaN;
        Assert.Contains("finite", Assert.Throws<ArgumentException>(() => Trainer.Train(nan, new TrainingOptions())).Message, StringComparison.Ordinal);
        Assert.Contains("--hidden", Assert.Throws<ArgumentException>(() => Trainer.Train(Seasonal(100, 1), new TrainingOptions { Hidden = 0 })).Message, StringComparison.Ordinal);
        Assert.Contains("--validation", Assert.Throws<ArgumentException>(() => Trainer.Train(Seasonal(100, 1), new TrainingOptions { ValidationFraction = 1 })).Message, StringComparison.Ordinal);
    }
}
