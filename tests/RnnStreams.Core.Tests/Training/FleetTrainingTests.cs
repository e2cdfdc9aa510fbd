using RnnStreams.Core.Formats;
using RnnStreams.Core.Training;

namespace RnnStreams.Core.Tests.Training;

/// <summary>
/// One model for a fleet: the committed fleet of short series (tests/reference/fleet: 6 years of the CO₂ series per
/// device, each from its own start, with its own offset, gain and noise), each in units of its own scale; the global
/// model forecasts each series' held-out tail better than models trained on each series alone.
/// </summary>
public class FleetTrainingTests
{
    private static IReadOnlyList<FleetSeries> Devices(int count) =>
        [.. Csv.ReadFleet(Path.Combine(AppContext.BaseDirectory, "Reference", "fleet_devices.csv"), 0).Take(count)];

    [Fact]
    public void TrainFleet_OneModel_BeatsPerSeriesModels_OnShortSeries_AndServesEachDeviceAsReported()
    {
        var fleet = Devices(24);
        Assert.All(fleet, s => Assert.Equal(72, s.Values.Count));
        var options = new TrainingOptions { Ensemble = 2, Hidden = 16, Name = "fleet" };
        var report = Trainer.TrainFleet(fleet, options);

        Assert.True(report.Model.Forecaster!.SeriesScale);
        Assert.Equal(fleet.Select(s => s.Name), report.Series.Select(s => s.Name));
        var single = fleet.Select(s => Trainer.Train(s.Values, options with { Name = "single" }, times: s.Times).Rmse).ToArray();
        var global = report.Series.Select(s => s.Report.Rmse).ToArray();
        var ratio = Math.Exp(global.Zip(single, (g, o) => Math.Log(g / o)).Average());
        Assert.True(ratio < 0.95, $"global ÷ per-series RMSE (geometric mean) {ratio:F3}");

        // The model file serves each device as the report says.
        var reloaded = ModelFile.Parse(ModelFile.ToJson(report.Model));
        var again = Trainer.Evaluate(reloaded, fleet[3].Values, report.Series[3].Report.TrainCount, times: fleet[3].Times);
        Assert.Equal(report.Series[3].Report.Rmse, again.Rmse);

        // A device the model never saw is served from its first window: measured on 8 more devices' tails, still better
        // than a model trained on each of them.
        var unseen = Devices(32).Skip(24).ToArray();
        var cold = unseen.Select(s => Trainer.Evaluate(report.Model, s.Values, s.Values.Count - 14, times: s.Times).Rmse).ToArray();
        var own = unseen.Select(s => Trainer.Train(s.Values, options with { Name = "single" }, times: s.Times).Rmse).ToArray();
        var coldRatio = Math.Exp(cold.Zip(own, (g, o) => Math.Log(g / o)).Average());
        Assert.True(coldRatio < 0.95, $"unseen devices: fleet model ÷ their own models' RMSE (geometric mean) {coldRatio:F3}");

        // Deterministic for a seed.
        Assert.Equal(ModelFile.ToJson(report.Model), ModelFile.ToJson(Trainer.TrainFleet(fleet, options).Model));
    }

    [Fact]
    public void TrainFleet_BadSeries_IsRefusedNamingIt()
    {
        var fleet = Devices(3);
        FleetSeries[] withNaN = [fleet[0], fleet[1] with { Values = [.. fleet[1].Values.Select((v, i) => i == 9 ? double.NaN : v)] }];
        Assert.Contains("device-001: every value must be finite", Assert.Throws<ArgumentException>(() => Trainer.TrainFleet(withNaN, new TrainingOptions())).Message, StringComparison.Ordinal);

        FleetSeries[] short_ = [fleet[0], fleet[2] with { Values = [.. fleet[2].Values.Take(30)], Times = [.. fleet[2].Times!.Take(30)] }];
        Assert.StartsWith("device-002: ", Assert.Throws<ArgumentException>(() => Trainer.TrainFleet(short_, new TrainingOptions())).Message, StringComparison.Ordinal);

        var days = Enumerable.Range(0, 72).Select(d => new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddDays(d)).ToArray();
        FleetSeries[] mixed = [fleet[0], fleet[1] with { Times = days }];
        Assert.Contains("device-001: daily, but device-000 is monthly: one model serves a fleet of one frequency",
            Assert.Throws<ArgumentException>(() => Trainer.TrainFleet(mixed, new TrainingOptions())).Message, StringComparison.Ordinal);
        FleetSeries[] untimed = [fleet[0], fleet[1] with { Times = null }];
        Assert.Contains("device-001: without regular times, but device-000 is monthly",
            Assert.Throws<ArgumentException>(() => Trainer.TrainFleet(untimed, new TrainingOptions())).Message, StringComparison.Ordinal);

        FleetSeries[] profileOnly = [fleet[0]];
        Assert.Contains("seasonal profile belongs to one series",
            Assert.Throws<ArgumentException>(() => Trainer.TrainFleet(profileOnly, new TrainingOptions { Targets = [ForecastTarget.Profile] })).Message, StringComparison.Ordinal);
        Assert.Contains("at least one series", Assert.Throws<ArgumentException>(() => Trainer.TrainFleet([], new TrainingOptions())).Message, StringComparison.Ordinal);
    }
}
