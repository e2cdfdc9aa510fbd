using RnnStreams.Core;

namespace RnnStreams.Grains.Tests;

/// <summary>
/// <see cref="ISequenceGrain.Forecast"/>: the model rolled forward from the live state on a copy — equal to the kernel
/// fed its own outputs, bit for bit —, and the sequence unchanged by it; every refusal typed, the state as it was.
/// </summary>
[Collection(ClusterCollection.Name)]
public class ForecastTests(ClusterFixture fixture)
{
    private readonly IClusterClient _client = fixture.Client;

    private async Task<(ISequenceGrain Sequence, RnnModel Model)> StartAsync(RnnModel model)
    {
        await _client.GetGrain<IModelGrain>(model.Name).Publish(ModelFile.ToJson(model));
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("forecast"));
        await sequence.Start(new StartRequest(model.Name));
        return (sequence, model);
    }

    [Theory]
    [InlineData(CellType.RnnTanh, 1, false)]
    [InlineData(CellType.Gru, 1, false)]
    [InlineData(CellType.Lstm, 2, false)]
    [InlineData(CellType.Lstm, 2, true)]
    public async Task Forecast_IsTheKernelFedItsOwnOutputs_AndChangesNothing(CellType cell, int layers, bool float32)
    {
        var random = Models.Random(90 + (int)cell, 2, 6, 2, layers, cell, name: Models.Key($"fc-{cell}"));
        var (sequence, model) = await StartAsync(float32 ? random.WithPrecision(ModelPrecision.Float32) : random);
        var inputs = Models.Inputs(91, 10, 2);
        for (var n = 1; n <= inputs.Length; n++)
        {
            await sequence.Step(n, inputs[n - 1]);
        }

        // Offline, in the model's precision: the state after the 10 elements; element 11 from it (what the sequence must
        // still answer after the forecast); then, from the same state, each output fed back as the next input.
        var doubles = new double[model.StateSize];
        var floats = new float[model.StateSize];
        double[] Step(double[] x)
        {
            var y = new double[2];
            if (float32)
            {
                model.Step(x, floats, y);
            }
            else
            {
                model.Step(x, doubles, y);
            }

            return y;
        }

        var expected = new List<double[]>();
        foreach (var x in inputs)
        {
            expected = [Step(x)];
        }

        var (savedDoubles, savedFloats) = (doubles.ToArray(), floats.ToArray());
        var x11 = Models.Inputs(92, 1, 2)[0];
        var y11 = Step(x11);
        savedDoubles.CopyTo(doubles, 0);
        savedFloats.CopyTo(floats, 0);
        for (var i = 1; i < 24; i++)
        {
            expected.Add(Step(expected[^1]));
        }

        var before = await sequence.Snapshot();
        var forecast = await sequence.Forecast(24);
        Assert.Equal((10L, 24, 2, 1), (forecast.AfterN, forecast.Steps, forecast.OutputSize, forecast.ModelVersion));
        Assert.Equal(expected.SelectMany(r => r).ToArray(), forecast.Y);
        Assert.Equal(forecast.Y.Take(2).ToArray(), (await sequence.Forecast(1)).Y); // row 1 is y_n itself

        // Nothing moved: the same snapshot, and element 11 answers as if no forecast had been asked.
        var after = await sequence.Snapshot();
        Assert.Equal((before.LastN, before.UpdatedAt), (after.LastN, after.UpdatedAt));
        Assert.Equal(before.Hidden.SelectMany(h => h), after.Hidden.SelectMany(h => h));
        Assert.Equal(y11, (await sequence.Step(11, x11)).Y);
    }

    [Fact]
    public async Task WorkedExample_TwoStepsAhead()
    {
        // The brief's worked example: W_xh = 0.5, W_hh = 0.3, b_h = 0.1, W_hy = 0.4, b_y = 0.2, h_0 = 0, x = 1, 2, 3.
        var json = $$"""
            { "name": "{{Models.Key("worked")}}", "cell": "rnn_tanh", "inputSize": 1, "hiddenSize": 1, "outputSize": 1, "output": "linear",
              "layers": [ { "W_xh": [[0.5]], "W_hh": [[0.3]], "b_h": [0.1] } ], "W_hy": [[0.4]], "b_y": [0.2] }
            """;
        var (sequence, _) = await StartAsync(ModelFile.Parse(json, null));
        foreach (var (x, n) in new[] { (1.0, 1), (2.0, 2), (3.0, 3) })
        {
            await sequence.Step(n, [x]);
        }

        var forecast = await sequence.Forecast(2);
        Assert.Equal(0.58090, forecast.Y[0], 5); // y_3, the forecast of x_4
        var h3 = (await sequence.Snapshot()).Hidden[0][0];
        Assert.Equal(0.952, h3, 3);
        var h4 = Math.Tanh((0.5 * forecast.Y[0]) + (0.3 * h3) + 0.1); // x_4 := y_3
        Assert.Equal((0.4 * h4) + 0.2, forecast.Y[1], 12);
    }

    [Fact]
    public async Task Refusals_AreTyped_AndLeaveTheSequenceAsItWas()
    {
        var notStarted = _client.GetGrain<ISequenceGrain>(Models.Key("forecast-none"));
        await Assert.ThrowsAsync<SequenceNotStartedException>(() => notStarted.Forecast(1));

        var (sequence, _) = await StartAsync(Models.Random(93, 3, 5, 1, name: Models.Key("fc-d3o1")));
        var noElement = await Assert.ThrowsAsync<RnnArgumentException>(() => sequence.Forecast(1));
        Assert.Contains("no element", noElement.Message);

        await sequence.Step(1, [0.1, 0.2, 0.3]);
        foreach (var steps in new[] { 0, -1, RnnConstants.MaxForecastSteps + 1 })
        {
            var e = await Assert.ThrowsAsync<RnnArgumentException>(() => sequence.Forecast(steps));
            Assert.Equal(RnnErrorKind.InvalidArgument, e.Kind);
        }

        // O = 1 ≠ D = 3: one step (y_n) is defined, rolling forward is not.
        var notItsInput = await Assert.ThrowsAsync<RnnArgumentException>(() => sequence.Forecast(2));
        Assert.Contains("takes 3 numbers and gives 1", notItsInput.Message);
        var one = await sequence.Forecast(1);
        Assert.Equal((await sequence.Recent(0)).Outputs, one.Y);
        Assert.Equal(1, (await sequence.Snapshot()).LastN);
    }

    [Fact]
    public async Task AForecastThatOverflows_IsRefused_AndTheStateStays()
    {
        // ReLU with huge weights: element 1 is finite (y = 1e200), feeding y back overflows.
        var name = Models.Key("fc-overflow");
        var json = $$"""
            { "name": "{{name}}", "cell": "rnn_relu", "inputSize": 1, "hiddenSize": 1, "outputSize": 1, "output": "linear",
              "layers": [ { "W_xh": [[1e100]], "W_hh": [[0]], "b_h": [0] } ], "W_hy": [[1e100]], "b_y": [0] }
            """;
        var (sequence, _) = await StartAsync(ModelFile.Parse(json, null));
        Assert.Equal(1e200, (await sequence.Step(1, [1.0])).Y[0]);
        var before = await sequence.Snapshot();

        var e = await Assert.ThrowsAsync<NonFiniteResultException>(() => sequence.Forecast(3));
        Assert.Equal(RnnErrorKind.NonFiniteResult, e.Kind);
        var after = await sequence.Snapshot();
        Assert.Equal((before.LastN, before.Hidden[0][0]), (after.LastN, after.Hidden[0][0]));
        Assert.Equal(1e100, after.Hidden[0][0]);
    }
}
