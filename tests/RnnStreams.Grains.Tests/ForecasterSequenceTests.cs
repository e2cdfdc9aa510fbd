using RnnStreams.Core;

namespace RnnStreams.Grains.Tests;

/// <summary>
/// A forecaster model served by a sequence: raw values (and their times) in, the forecast of the next value out, bit for
/// bit what the model gives offline; its window of past values lives in the sequence's state; a value it cannot take is
/// refused typed with the state unchanged.
/// </summary>
[Collection(ClusterCollection.Name)]
public class ForecasterSequenceTests(ClusterFixture fixture)
{
    private static readonly DateTime January2000 = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private readonly IClusterClient _client = fixture.Client;

    /// <summary>A log forecaster of season 12 with seasonal lags and a month calendar around a random GRU (D = 5).</summary>
    private static RnnModel Forecaster(string name, ForecastDistribution distribution = ForecastDistribution.None) =>
        new(Models.Random(41, 5, 6, distribution == ForecastDistribution.Gaussian ? 2 : 1, 1, CellType.Gru, name: name),
            new Forecaster(12, log: true, [ForecastTarget.Seasonal], seasonalLags: true, CalendarKind.Month, firstPhase: 0, distribution));

    /// <summary>A positive monthly series with a trend and a season.</summary>
    private static double Value(int t) => (100 + (2.0 * t)) * (1 + (0.2 * Math.Sin(2 * Math.PI * t / 12)));

    private async Task<ISequenceGrain> StartAsync(RnnModel model)
    {
        await _client.GetGrain<IModelGrain>(model.Name).Publish(ModelFile.ToJson(model));
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("forecaster"));
        await sequence.Start(new StartRequest(model.Name));
        return sequence;
    }

    private static double[] Offline(RnnModel model, int count, int firstMonth, bool withTimes, double[]? state = null)
    {
        state ??= new double[model.StateSize];
        var y = new double[1];
        var outputs = new double[count];
        for (var t = 0; t < count; t++)
        {
            model.Step([Value(t)], withTimes ? January2000.AddMonths(firstMonth + t).Ticks : 0, state, y);
            outputs[t] = y[0];
        }

        return outputs;
    }

    [Fact]
    public async Task Served_WithTimesOrCounted_IsTheModelOffline_BitForBit()
    {
        var model = Forecaster(Models.Key("fcs"));
        Assert.Equal((1, 1), (model.InputSize, model.OutputSize));

        // With times starting in July: each element's month is read from its time.
        var timed = await StartAsync(model);
        var served = new List<double>();
        for (var t = 0; t < 40; t++)
        {
            served.Add((await timed.StepAt(t + 1, [Value(t)], January2000.AddMonths(6 + t))).Y[0]);
        }

        Assert.Equal(Offline(model, 40, 6, withTimes: true), served);

        // Without times: positions counted from the first element, taken as the model's first phase (January).
        var counted = await StartAsync(model);
        var batch = await counted.StepMany(1, [.. Enumerable.Range(0, 40).Select(Value)]);
        Assert.Equal(Offline(model, 40, 0, withTimes: false), batch.Outputs);
        Assert.Equal(Offline(model, 40, 0, withTimes: true), batch.Outputs); // January first: the same months

        // A batch with times, the same as one by one.
        var timedBatch = await StartAsync(model);
        var times = Enumerable.Range(0, 40).Select(t => January2000.AddMonths(6 + t)).ToArray();
        Assert.Equal(served, (await timedBatch.StepManyAt(1, [.. Enumerable.Range(0, 40).Select(Value)], times)).Outputs);
        Assert.NotEqual(served, batch.Outputs); // the months matter once the window is full

        var wrongCount = await Assert.ThrowsAsync<RnnArgumentException>(() => timedBatch.StepManyAt(41, [1, 2], [January2000]));
        Assert.Contains("times", wrongCount.Message, StringComparison.Ordinal);
        Assert.Equal(40, (await timedBatch.Snapshot()).LastN);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-3.5)]
    public async Task LogForecaster_ValueAtOrBelowZero_IsOutOfDomain_AndTheStateIsUnchanged(double value)
    {
        var model = Forecaster(Models.Key("fcd"));
        var sequence = await StartAsync(model);
        await sequence.StepMany(1, [.. Enumerable.Range(0, 30).Select(Value)]);
        var before = await sequence.Snapshot();

        var single = await Assert.ThrowsAsync<InvalidInputException>(() => sequence.Step(31, [value]));
        Assert.Equal((RnnErrorKind.OutOfDomain, 31L), (single.Kind, single.N));
        var inBatch = await Assert.ThrowsAsync<InvalidInputException>(() => sequence.StepMany(31, [Value(30), value]));
        Assert.Equal((RnnErrorKind.OutOfDomain, 32L), (inBatch.Kind, inBatch.N));

        var after = await sequence.Snapshot();
        Assert.Equal((before.LastN, before.UpdatedAt), (after.LastN, after.UpdatedAt));
        Assert.Equal(Offline(model, 31, 0, withTimes: false)[30], (await sequence.Step(31, [Value(30)])).Y[0]);
    }

    [Fact]
    public async Task Forecast_RollsTheForecasterForward_OnItsOwnForecasts()
    {
        var model = Forecaster(Models.Key("fcf"));
        var sequence = await StartAsync(model);
        await sequence.StepMany(1, [.. Enumerable.Range(0, 36).Select(Value)]);

        var state = new double[model.StateSize];
        var y = new double[1];
        for (var t = 0; t < 36; t++)
        {
            model.Step([Value(t)], state, y);
        }

        var expected = new List<double> { y[0] };
        for (var i = 1; i < 18; i++)
        {
            model.Step([expected[^1]], state, y);
            expected.Add(y[0]);
        }

        Assert.Equal(expected, (await sequence.Forecast(18)).Y);
        Assert.Equal(36, (await sequence.Snapshot()).LastN);
    }

    [Fact]
    public async Task Forecast_OfAGaussianForecaster_CarriesIntervalsFromSampledFutures_TheSameEachTime()
    {
        var model = Forecaster(Models.Key("fcg"), ForecastDistribution.Gaussian);
        var sequence = await StartAsync(model);
        var warming = await sequence.StepMany(1, [.. Enumerable.Range(0, 20).Select(Value)]);
        Assert.Null((await sequence.Forecast(3)).Lower); // warming up: no interval yet
        Assert.Null(warming.Anomalies);

        var steps = await sequence.StepMany(21, [.. Enumerable.Range(20, 20).Select(Value)]);
        var history = await sequence.History();
        Assert.Equal(steps.Lower, history.Lower![20..]); // the chart's history keeps each forecast's interval
        Assert.Equal(steps.Upper, history.Upper![20..]);
        Assert.All(history.Lower[..(model.Forecaster!.FirstStep)], v => Assert.True(double.IsNaN(v)));
        var before = await sequence.Snapshot();
        var forecast = await sequence.Forecast(12);
        Assert.Equal((0.8, 12, 12), (forecast.IntervalLevel, forecast.Lower!.Length, forecast.Upper!.Length));
        for (var i = 0; i < 12; i++)
        {
            Assert.True(forecast.Lower[i] < forecast.Upper[i], $"row {i}: [{forecast.Lower[i]}, {forecast.Upper[i]}]");
        }

        Assert.InRange(forecast.Y[0], forecast.Lower[0], forecast.Upper[0]);
        var again = await sequence.Forecast(12);
        Assert.Equal(forecast.Lower, again.Lower);
        Assert.Equal(forecast.Upper, again.Upper);
        var after = await sequence.Snapshot();
        Assert.Equal((before.LastN, before.UpdatedAt), (after.LastN, after.UpdatedAt));
        Assert.Equal(before.Hidden.SelectMany(h => h), after.Hidden.SelectMany(h => h));
    }

    /// <summary>
    /// A fleet model (one network, each sequence in units of its own scale) served to two devices whose readings differ by a
    /// factor of 50: each is the model offline bit for bit, and the larger device's forecasts — one step and rolled 12 steps
    /// forward — are the smaller's times 50: each sequence measured its own scale and keeps it in its state.
    /// </summary>
    [Fact]
    public async Task FleetModel_EachSequenceInItsOwnScale_ServesDevicesOfAnySizeAlike()
    {
        var name = Models.Key("fleet");
        var forecaster = new Forecaster(12, log: false, [ForecastTarget.Seasonal, ForecastTarget.SeasonalChange], seasonalLags: true, CalendarKind.Month, 0,
            ForecastDistribution.Gaussian, seriesScale: true);
        var model = new RnnModel(Models.Random(43, forecaster.NetworkInputSize, 6, forecaster.NetworkOutputSize, 1, CellType.Gru, name: name), forecaster);
        var small = await StartAsync(model);
        var large = _client.GetGrain<ISequenceGrain>(Models.Key("forecaster"));
        await large.Start(new StartRequest(name));
        var times = Enumerable.Range(0, 40).Select(t => January2000.AddMonths(3 + t)).ToArray();

        var ys = (await small.StepManyAt(1, [.. Enumerable.Range(0, 40).Select(Value)], times)).Outputs;
        var yl = (await large.StepManyAt(1, [.. Enumerable.Range(0, 40).Select(t => 50 * Value(t))], times)).Outputs;

        Assert.Equal(Offline(model, 40, 3, withTimes: true), ys);
        for (var t = model.Forecaster!.FirstStep; t < 40; t++)
        {
            Assert.Equal(50 * ys[t], yl[t], 1e-9 * Math.Abs(yl[t]));
        }

        var (fs, fl) = (await small.Forecast(12), await large.Forecast(12));
        for (var i = 0; i < 12; i++)
        {
            Assert.Equal(50 * fs.Y[i], fl.Y[i], 1e-9 * Math.Abs(fl.Y[i]));
        }

        Assert.True(fl.Upper![11] - fl.Lower![11] > 10 * (fs.Upper![11] - fs.Lower![11]));
    }
}
