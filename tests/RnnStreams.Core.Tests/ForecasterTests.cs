using MathNet.Numerics.Distributions;

namespace RnnStreams.Core.Tests;

/// <summary>
/// <see cref="Forecaster"/>: its inputs, target and base written out for each target; its Gaussian intervals, quantiles and
/// surprise against MathNet's normal; its calendar; its section of the model file and every refusal of a bad one.
/// </summary>
public class ForecasterTests
{
    /// <summary>
    /// A network whose outputs are constant: zero weights, so y = b_y — μ = <paramref name="mean"/> and the spread's
    /// parameter <paramref name="spread"/> (σ = softplus(spread)) for a Gaussian forecaster.
    /// </summary>
    private static RnnModel Constant(Forecaster forecaster, double mean, double spread)
    {
        var d = forecaster.NetworkInputSize;
        var o = forecaster.NetworkOutputSize;
        var layer = new RnnLayer(d, 2, new double[2 * d], new double[4], new double[2], "layers[0]");
        var network = new RnnModel("constant", CellType.RnnTanh, OutputHead.Linear, d, 2, o, [layer], new double[o * 2], o == 2 ? [mean, spread] : [mean]);
        return new RnnModel(network, forecaster);
    }

    private static Forecaster Monthly(bool log = false, ForecastTarget target = ForecastTarget.Seasonal, double[]? profile = null, ForecastDistribution distribution = ForecastDistribution.Gaussian, double spreadScale = 1) =>
        new(12, log, [target], seasonalLags: true, CalendarKind.Month, firstPhase: 0, distribution, spreadScale, profile);

    private static double Value(int t) => 50 + t + (5 * Math.Sin(2 * Math.PI * t / 12));

    [Fact]
    public void Seasonal_InputsTargetAndBase_AreTheSeasonalDifferencesWrittenOut()
    {
        var f = Monthly();
        var z = Enumerable.Range(0, f.Window).Select(Value).ToArray(); // z_0 … z_24, t = 24
        var x = new double[f.NetworkInputSize];
        f.Inputs(z, phase: 0, x); // t = 24 is a January: t + 1 is February
        Assert.Equal(5, x.Length);
        Assert.Equal(z[24] - z[12], x[0]);
        Assert.Equal(z[13] - z[1], x[1]); // T_{t+1−s}
        Assert.Equal(z[12] - z[0], x[2]); // T_{t−s}
        Assert.Equal((Math.Sin(2 * Math.PI / 12), Math.Cos(2 * Math.PI / 12)), (x[3], x[4]));
        Assert.Equal(z[13], f.Base(ForecastTarget.Seasonal, z, 0));

        var change = Monthly(target: ForecastTarget.SeasonalChange);
        var w = Enumerable.Range(0, change.Window).Select(Value).ToArray(); // t = 25
        Assert.Equal(w[25] - w[13] - (w[24] - w[12]), change.Target(ForecastTarget.SeasonalChange, w, 1));
        Assert.Equal(w[25] + w[14] - w[13], change.Base(ForecastTarget.SeasonalChange, w, 1));
    }

    [Fact]
    public void Profile_TargetIsTheChangeOfTheDeseasonalisedSeries_AndBaseAddsTheNextPositionsProfile()
    {
        var profile = Enumerable.Range(0, 12).Select(k => k - 5.5).ToArray();
        var f = Monthly(target: ForecastTarget.Profile, profile: profile);
        Assert.Equal(13, f.FirstStep);
        var z = Enumerable.Range(0, f.Window).Select(Value).ToArray(); // z_0 … z_13, t = 13 at position 1 (February)
        Assert.Equal(z[13] - profile[1] - (z[12] - profile[0]), f.Target(ForecastTarget.Profile, z, 1));
        Assert.Equal(z[13] - profile[1] + profile[2], f.Base(ForecastTarget.Profile, z, 1));
        Assert.Equal(z[13] - profile[11] + profile[0], f.Base(ForecastTarget.Profile, z, 11)); // December's next is January
        var x = new double[5];
        f.Inputs(z, 1, x);
        Assert.Equal(f.Target(ForecastTarget.Profile, z[..^11], 2), x[1]); // t + 1 − s = 2, at position 2
        Assert.Equal(f.Target(ForecastTarget.Profile, z[..^12], 1), x[2]); // t − s = 1
    }

    [Fact]
    public void SeveralTargets_InputsFollowEachOther_AndTheForecastIsTheirMeanWithTheMixturesSpread()
    {
        var profile = Enumerable.Range(0, 12).Select(k => Math.Cos(k)).ToArray();
        ForecastTarget[] targets = [ForecastTarget.Seasonal, ForecastTarget.SeasonalChange, ForecastTarget.Profile];
        var f = new Forecaster(12, false, targets, true, CalendarKind.Month, 0, ForecastDistribution.Gaussian, 1.5, profile);
        Assert.Equal((11, 6, 25), (f.NetworkInputSize, f.NetworkOutputSize, f.FirstStep));
        var z = Enumerable.Range(0, f.Window).Select(Value).ToArray();
        var x = new double[11];
        f.Inputs(z, 3, x);
        for (var c = 0; c < 3; c++)
        {
            Assert.Equal(f.Target(targets[c], z, 3), x[3 * c]);
            Assert.Equal(f.Target(targets[c], z[..^12], 3), x[(3 * c) + 2]);
        }

        double[] outputs = [0.1, -1, 0.2, 0, -0.3, 1];
        double[] units = [2, 3, 4];
        var (centre, sigma) = f.Combine(z, 3, outputs, units);
        var centres = Enumerable.Range(0, 3).Select(c => f.Base(targets[c], z, 3) + outputs[2 * c]).ToArray();
        var sigmas = Enumerable.Range(0, 3).Select(c => Math.Log(1 + Math.Exp(outputs[(2 * c) + 1])) * units[c]).ToArray();
        Assert.Equal(centres.Average(), centre, 1e-12);
        var variance = sigmas.Average(s => s * s) + centres.Average(v => (v - centres.Average()) * (v - centres.Average()));
        Assert.Equal(Math.Sqrt(variance) * 1.5, sigma, 1e-9);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Gaussian_IntervalQuantileAndSurprise_AreTheTargetsNormalMappedBack(bool log)
    {
        const double mean = 0.02, spread = -1.5, scale = 1.3;
        var f = Monthly(log, spreadScale: scale);
        var model = Constant(f, mean, spread);
        var state = new double[model.StateSize];
        var y = new double[1];
        for (var t = 0; t < f.FirstStep; t++)
        {
            model.Step([Value(t)], state, y);
            Assert.False(model.TryInterval(state, 0.8, out _, out _)); // warming up
        }

        model.Step([Value(f.FirstStep)], state, y);
        var sigma = Math.Log(1 + Math.Exp(spread)) * scale;
        var baseZ = log ? Math.Log(Value(f.FirstStep + 1 - 12)) : Value(f.FirstStep + 1 - 12);
        double Back(double z) => log ? Math.Exp(z) : z;
        Assert.Equal(Back(baseZ + mean), y[0], 1e-12);
        Assert.True(model.TryInterval(state, 0.8, out var lower, out var upper));
        Assert.Equal(Back(baseZ + mean + (sigma * Normal.InvCDF(0, 1, 0.1))), lower, 1e-12);
        Assert.Equal(Back(baseZ + mean + (sigma * Normal.InvCDF(0, 1, 0.9))), upper, 1e-12);
        Assert.True(model.TryQuantile(state, 0.5, out var median));
        Assert.Equal(y[0], median, 1e-12);
        Assert.False(model.TryQuantile(state, 1, out _));

        var next = Back(baseZ + mean + (3 * sigma));
        Assert.Equal(3, model.Surprise(state, next), 1e-9);
        Assert.True(double.IsNaN(model.Surprise(state, double.NaN)));

        var details = new ForecastDetails(1, 0.8, 0.99);
        var copy = state.ToArray();
        Assert.Equal(-1, model.TryAdvance([next], default, copy, new double[1], details));
        Assert.True(details.IsAnomaly(0));
        Assert.Equal(Back(baseZ + mean + (sigma * Normal.InvCDF(0, 1, 0.995))), details.AnomalyUpper[0], 1e-12);
    }

    [Fact]
    public void SampledIntervals_OfAConstantNetwork_AreTheAnalyticOnesWithinSamplingError()
    {
        // A constant network and a seasonal target: value t+h = value t+h−12 + μ + σε for h ≤ 12, each known from the
        // history, so each horizon's interval is the normal's, however the paths ran.
        const double mean = 0.5, spread = 0.3;
        var model = Constant(Monthly(), mean, spread);
        var state = new double[model.StateSize];
        var y = new double[1];
        const int last = 40;
        for (var t = 0; t <= last; t++)
        {
            model.Step([Value(t)], state, y);
        }

        var before = state.ToArray();
        var (lower, upper) = (new double[12], new double[12]);
        Assert.True(model.TrySampleIntervals(state, 4000, 0.8, seed: 7, lower, upper));
        Assert.Equal(before, state);
        var sigma = Math.Log(1 + Math.Exp(spread));
        var half = sigma * Normal.InvCDF(0, 1, 0.9);
        for (var h = 1; h <= 12; h++)
        {
            var centre = Value(last + h - 12) + mean;
            Assert.Equal(centre - half, lower[h - 1], 0.08 * half);
            Assert.Equal(centre + half, upper[h - 1], 0.08 * half);
        }

        var (again, againUpper) = (new double[12], new double[12]);
        model.TrySampleIntervals(state, 4000, 0.8, seed: 7, again, againUpper);
        Assert.Equal(lower, again); // deterministic for a seed

        var ys = new double[12];
        ys[0] = y[0];
        Assert.Equal(-1, model.TryRollForward(state, ys));
        Assert.Equal(Enumerable.Range(1, 12).Select(h => Value(last + h - 12) + mean), ys, (a, b) => Math.Abs(a - b) < 1e-9);
    }

    [Fact]
    public void PointForecaster_HasNoIntervals_AndNoSurprise()
    {
        var model = Constant(Monthly(distribution: ForecastDistribution.None), 0.1, 0);
        var state = new double[model.StateSize];
        var y = new double[1];
        for (var t = 0; t < 30; t++)
        {
            model.Step([Value(t)], state, y);
        }

        Assert.False(model.HasIntervals);
        Assert.False(model.TryInterval(state, 0.8, out _, out _));
        Assert.True(double.IsNaN(model.Surprise(state, 60)));
    }

    [Fact]
    public void Phase_ReadsTheMonthOfATime_ElseCountsOn()
    {
        var f = Monthly();
        Assert.Equal(6, f.Phase(new DateTime(2001, 7, 1, 0, 0, 0, DateTimeKind.Utc).Ticks, previous: 0, first: true));
        Assert.Equal(0, f.Phase(0, previous: 11, first: false));
        Assert.Equal(0, f.Phase(0, previous: 4, first: true)); // the first element without a time: the model's first phase
        var weekly = new Forecaster(7, false, [ForecastTarget.Seasonal], false, CalendarKind.Weekday, 0, ForecastDistribution.None);
        Assert.Equal((int)DayOfWeek.Wednesday, weekly.Phase(new DateTime(2026, 12, 2, 0, 0, 0, DateTimeKind.Utc).Ticks, 0, first: true));
    }

    /// <summary>
    /// A fleet model's per-series scale: a sequence measures it from its first full window (the RMS of z's first
    /// differences), divides the targets' inputs by it and scales the forecast and its spread back — so a series 50 times
    /// larger gets forecasts and intervals 50 times larger, from the same network; the scale is in the state and the file.
    /// </summary>
    [Fact]
    public void SeriesScale_ServesASeriesOfAnySizeAlike_AndRoundTripsInTheModelFile()
    {
        var f = new Forecaster(12, false, [ForecastTarget.Seasonal, ForecastTarget.SeasonalChange], seasonalLags: true, CalendarKind.Month, 0, ForecastDistribution.Gaussian, seriesScale: true);
        var layer = new RnnLayer(f.NetworkInputSize, 3, [.. Enumerable.Range(0, 3 * f.NetworkInputSize).Select(i => Math.Sin(i) * 0.3)], [.. Enumerable.Range(0, 9).Select(i => Math.Cos(i) * 0.2)], [0.1, -0.1, 0.05], "layers[0]");
        var network = new RnnModel("fleet", CellType.RnnTanh, OutputHead.Linear, f.NetworkInputSize, 3, 4, [layer], [.. Enumerable.Range(0, 12).Select(i => Math.Sin(i + 1) * 0.5)], [0.01, 0.2, -0.02, 0.1]);
        var model = new RnnModel(network, f);
        var back = ModelFile.Parse(ModelFile.ToJson(model));
        Assert.True(back.Forecaster!.SeriesScale);
        Assert.Contains("\"seriesScale\": true", ModelFile.ToJson(model), StringComparison.Ordinal);
        Assert.DoesNotContain("seriesScale", ModelFile.ToJson(Constant(Monthly(), 0, 0)), StringComparison.Ordinal);

        var (small, large) = (new double[model.StateSize], new double[back.StateSize]);
        var (ys, yl) = (new double[1], new double[1]);
        for (var t = 0; t < 40; t++)
        {
            model.Step([Value(t)], small, ys);
            back.Step([50 * Value(t)], large, yl);
            if (t + 1 >= f.Window)
            {
                Assert.Equal(50 * ys[0], yl[0], 1e-9 * Math.Abs(yl[0]));
                Assert.True(model.TryInterval(small, 0.8, out var lowerSmall, out var upperSmall));
                Assert.True(back.TryInterval(large, 0.8, out var lowerLarge, out var upperLarge));
                Assert.Equal(50 * (upperSmall - lowerSmall), upperLarge - lowerLarge, 1e-9 * (upperLarge - lowerLarge));
            }
        }

        var diffs = Enumerable.Range(1, f.Window - 1).Select(t => Value(t) - Value(t - 1)).ToArray();
        Assert.Equal(Math.Sqrt(diffs.Average(d => d * d)), Forecaster.ScaleOf([.. Enumerable.Range(0, f.Window).Select(Value)]), 1e-12);
    }

    [Fact]
    public void ModelFile_RoundTripsTheForecaster_AndServesTheSameNumbers()
    {
        var profile = Enumerable.Range(0, 12).Select(k => Math.Sin(k)).ToArray();
        var model = Constant(Monthly(log: true, target: ForecastTarget.Profile, profile: profile, spreadScale: 0.75), 0.01, 0.2);
        var json = ModelFile.ToJson(model);
        var back = ModelFile.Parse(json);
        Assert.Equal(json, ModelFile.ToJson(back));
        Assert.Equal((1, 1, model.StateSize), (back.InputSize, back.OutputSize, back.StateSize));
        Assert.Equal(profile, back.Forecaster!.Profile.ToArray());
        Assert.Equal((0.75, CalendarKind.Month, ForecastDistribution.Gaussian), (back.Forecaster.SpreadScale, back.Forecaster.Calendar, back.Forecaster.Distribution));
        var (a, b) = (new double[model.StateSize], new double[back.StateSize]);
        var (ya, yb) = (new double[1], new double[1]);
        for (var t = 0; t < 40; t++)
        {
            model.Step([Value(t)], a, ya);
            back.Step([Value(t)], b, yb);
            Assert.Equal(ya[0], yb[0]);
        }

        Assert.Contains("forecaster", model.ToString(), StringComparison.Ordinal);
        Assert.Throws<ModelValidationException>(() => model.WithPrecision(ModelPrecision.Float32));
        Assert.Throws<InvalidOperationException>(() => model.StepBatch([1.0], new double[model.StateSize], new double[1]));
        Assert.Equal("renamed", model.WithName("renamed").Name);
    }

    [Theory]
    [InlineData("\"season\": 12", "\"season\": 7", "forecaster.calendar")] // a month calendar needs season 12
    [InlineData("\"season\": 12", "\"season\": 1", "forecaster.season")]
    [InlineData("\"calendar\": \"month\"", "\"calendar\": \"fortnight\"", "forecaster.calendar")]
    [InlineData("\"distribution\": \"gaussian\"", "\"distribution\": \"cauchy\"", "forecaster.distribution")]
    [InlineData("\"firstPhase\": 0", "\"firstPhase\": 12", "forecaster.firstPhase")]
    [InlineData("\"spreadScale\": 1", "\"spreadScale\": -1", "forecaster.spreadScale")]
    [InlineData("\"log\": false", "\"log\": 1", "forecaster.log")]
    [InlineData("\"log\": false", "\"log\": false, \"seriesScale\": \"yes\"", "forecaster.seriesScale")]
    [InlineData("\"log\": false", "\"log\": false, \"horizon\": 2", "forecaster.horizon")]
    [InlineData("\"seasonalLags\": true", "\"seasonalLags\": false", "inputSize")] // the network reads 5 numbers, the forecaster would give 3
    [InlineData("\"profile\": [", "\"profile\": [1, ", "forecaster.profile", true)]
    [InlineData("\"profile\": [", "\"unused\": 0, \"profile\": [", "forecaster.unused", true)]
    [InlineData("\"targets\": [\"seasonal\"]", "\"targets\": [\"seasonal\", \"seasonal\"]", "forecaster.targets")]
    [InlineData("\"targets\": [\"seasonal\"]", "\"targets\": [\"trend\"]", "forecaster.targets[0]")]
    [InlineData("\"targets\": [\"seasonal\"]", "\"targets\": [\"profile\"]", "forecaster.profile")] // the profile target without a profile
    [InlineData("\"targets\": [\"seasonal\"]", "\"targets\": [\"seasonal\", \"seasonal-change\"]", "inputSize")]
    public void ModelFile_BadForecaster_IsRefusedNamingTheField(string find, string replace, string field, bool profile = false)
    {
        var json = ModelFile.ToJson(Constant(profile ? Monthly(target: ForecastTarget.Profile, profile: new double[12]) : Monthly(), 0, 0));
        Assert.Contains(find, json, StringComparison.Ordinal);
        var e = Assert.Throws<ModelValidationException>(() => ModelFile.Parse(json.Replace(find, replace, StringComparison.Ordinal)));
        Assert.Equal(field, e.Field);
    }
}
