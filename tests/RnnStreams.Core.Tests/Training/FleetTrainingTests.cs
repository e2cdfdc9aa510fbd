using RnnStreams.Core.Formats;
using RnnStreams.Core.Training;

namespace RnnStreams.Core.Tests.Training;

/// <summary>
/// One model for a fleet: short series of one kind (the CO₂ season) at different levels and noise, each in units of its
/// own scale; the global model forecasts each series' held-out tail better than models trained on each series alone.
/// </summary>
public class FleetTrainingTests
{
    /// <summary>
    /// Device d: 6 years of the CO₂ series from a device-dependent start, raised by 20·(d mod 5) ppm, with seeded noise of
    /// 0.1 to 1.6 ppm.
    /// </summary>
    internal static FleetSeries[] Devices(int count, int months = 72)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Reference", "co2_mauna_loa.csv");
        var co2 = Csv.ReadSeries(path);
        var times = Csv.ReadTimes(path)!;
        return [.. Enumerable.Range(0, count).Select(d =>
        {
            var random = new Random(100 + d);
            var start = 12 * (d % 25);
            var noise = 0.1 * (1 + (d % 16));
            var values = Enumerable.Range(start, months).Select(t => co2[t] + (20 * (d % 5)) + (noise * ((random.NextDouble() * 2) - 1))).ToArray();
            return new FleetSeries($"device-{d:D3}", values, times[start..(start + months)]);
        })];
    }

    [Fact]
    public void TrainFleet_OneModel_BeatsPerSeriesModels_OnShortSeries_AndServesEachDeviceAsReported()
    {
        var fleet = Devices(24);
        var options = new TrainingOptions { Ensemble = 2, Hidden = 16, Name = "fleet" };
        var report = Trainer.TrainFleet(fleet, options);

        Assert.True(report.Model.Forecaster!.SeriesScale);
        Assert.Equal(fleet.Length, report.Series.Count);
        var single = fleet.Select(s => Trainer.Train(s.Values, options with { Name = "single" }, times: s.Times).Rmse).ToArray();
        var global = report.Series.Select(s => s.Report.Rmse).ToArray();
        var ratio = Math.Exp(global.Zip(single, (g, o) => Math.Log(g / o)).Average());
        Assert.True(ratio < 0.95, $"global ÷ per-series RMSE (geometric mean) {ratio:F3}");

        // The model file serves each device as the report says.
        var reloaded = ModelFile.Parse(ModelFile.ToJson(report.Model));
        var again = Trainer.Evaluate(reloaded, fleet[3].Values, report.Series[3].Report.TrainCount, times: fleet[3].Times);
        Assert.Equal(report.Series[3].Report.Rmse, again.Rmse);
    }
}
