using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Orleans.TestingHost.Utils;
using RnnStreams.Core;

namespace RnnStreams.Grains.Tests.Fleet;

/// <summary>
/// Sequences feeding the silo's <see cref="SiloStatsCollector"/> and the <see cref="IFleetGrain"/> its reporter fills,
/// through a TestingHost silo: forecast errors equal to those computed from the offline kernel, exact counts.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class FleetGrainTests(ClusterFixture fixture)
{
    private readonly IClusterClient _client = fixture.Client;

    private SiloStatsCollector Collector =>
        ((InProcessSiloHandle)fixture.Cluster.Silos[0]).SiloHost.Services.GetRequiredService<SiloStatsCollector>();

    private Task<FleetSummary> Fleet() => _client.GetGrain<IFleetGrain>(0).Summary();

    private static async Task WaitUntil(Func<Task<bool>> condition, int seconds = 20) =>
        await TestingUtils.WaitUntilAsync(async _ => await condition(), TimeSpan.FromSeconds(seconds), TimeSpan.FromMilliseconds(100));

    private async Task<(ISequenceGrain Sequence, string Id, RnnModel Weights)> StartAsync(int seed, int d, int o)
    {
        var name = Models.Key("forecaster");
        var weights = Models.Random(seed, d, 6, o, name: name);
        await _client.GetGrain<IModelGrain>(name).Publish(ModelFile.ToJson(weights));
        var id = Models.Key("fc");
        var sequence = _client.GetGrain<ISequenceGrain>(id);
        await sequence.Start(new StartRequest(name));
        return (sequence, id, weights);
    }

    /// <summary>The recent forecast error after each element, from the offline outputs (the definition in <see cref="ForecastError"/>).</summary>
    private static double Expected(double[][] inputs, double[][] outputs, int count)
    {
        var recent = double.NaN;
        for (var t = 1; t < count; t++)
        {
            recent = ForecastError.Smooth(recent, ForecastError.Of(inputs[t], outputs[t - 1]));
        }

        return recent;
    }

    [Theory]
    [InlineData(2, 2)] // O = D: the mean of |x_t[i] − y_(t−1)[i]|
    [InlineData(3, 1)] // O = 1: |x_t[0] − y_(t−1)[0]|
    public async Task Steps_ReportTheKernelsForecastError_ToHistoryAndFleet(int d, int o)
    {
        var (sequence, id, weights) = await StartAsync(70 + d, d, o);
        // Inputs ×100 so that this sequence's error is above any other test's in the silo's top list.
        var inputs = Models.Inputs(d, 40, d).Select(x => x.Select(v => v * 100).ToArray()).ToArray();
        var outputs = Models.Offline(weights, inputs);
        for (var t = 0; t < 12; t++)
        {
            await sequence.Step(t + 1, inputs[t]);
        }

        // 28 elements in one call, more than the 8 kept outputs: element 13 is compared with y_12 before it is overwritten.
        await sequence.StepMany(13, [.. inputs.Skip(12).SelectMany(x => x)]);
        var expected = Expected(inputs, outputs, 40);

        var history = await sequence.History();
        Assert.Equal((id, 1L, 40L, 1), (history.Sequence, history.FirstN, history.LastN, history.ModelVersion));
        Assert.Equal(inputs.Select(x => x[0]), history.X);
        Assert.Equal(outputs.Select(y => y[0]), history.Y);
        Assert.Equal(expected, history.ForecastError);

        var mine = Collector.Snapshot("test").Top.Single(e => e.Sequence == id);
        Assert.Equal((expected, 40L), (mine.Error, mine.N));

        await WaitUntil(async () => (await Fleet()).Top.Any(e => e.Sequence == id && e.N == 40)); // an earlier report may hold it at element 12
        var fleet = await Fleet();
        var entry = fleet.Top.Single(e => e.Sequence == id);
        Assert.Equal((expected, 40L), (entry.Error, entry.N));
        Assert.Equal(fixture.Cluster.Silos[0].SiloAddress.ToString(), entry.Silo);
        Assert.Equal(1, fleet.Silos);
        Assert.True(fleet.ActiveSequences >= 1);
    }

    [Fact]
    public async Task Steps_OfAModelThatDoesNotForecastItsInput_HaveNoForecastError()
    {
        var (sequence, id, _) = await StartAsync(81, 3, 2);
        await sequence.StepMany(1, [.. Models.Inputs(81, 10, 3).SelectMany(x => x)]);

        var history = await sequence.History();

        Assert.Null(history.ForecastError);
        Assert.Equal(10, history.X.Length);
        Assert.DoesNotContain(Collector.Snapshot("test").Top, e => e.Sequence == id);
    }

    [Fact]
    public async Task History_GrowsAndWrapsAround_KeepingTheLast128ElementsExactly()
    {
        var (sequence, _, weights) = await StartAsync(101, 1, 1);
        var inputs = Models.Inputs(101, 300, 1);
        var outputs = Models.Offline(weights, inputs);
        var n = 0;
        foreach (var size in new[] { 1, 1, 1, 14, 1, 20, 50, 1, 1, 1, 10, 199 })
        {
            await sequence.StepMany(n + 1, [.. inputs.Skip(n).Take(size).SelectMany(x => x)]);
            n += size;
            var history = await sequence.History();
            var first = Math.Max(1, n - 127);
            Assert.Equal((first, (long)n), (history.FirstN, history.LastN));
            Assert.Equal(inputs.Skip(first - 1).Take(n - first + 1).Select(x => x[0]), history.X);
            Assert.Equal(outputs.Skip(first - 1).Take(n - first + 1).Select(y => y[0]), history.Y);
        }

        Assert.Equal(300, n);
    }

    [Fact]
    public async Task History_AfterReset_StartsAgain_AndTheErrorWithIt()
    {
        var (sequence, _, weights) = await StartAsync(91, 1, 1);
        var inputs = Models.Inputs(91, 6, 1);
        await sequence.StepMany(1, [.. inputs.SelectMany(x => x)]);
        Assert.NotNull((await sequence.History()).ForecastError);

        await sequence.Reset();
        var reset = await sequence.History();
        Assert.Equal((1L, 0L, 0, (double?)null), (reset.FirstN, reset.LastN, reset.X.Length, reset.ForecastError));

        await sequence.Step(1, inputs[3]);
        Assert.Null((await sequence.History()).ForecastError); // element 1 has nothing to be compared with
        await sequence.Step(2, inputs[4]);
        var outputs = Models.Offline(weights, [inputs[3], inputs[4]]);
        var again = await sequence.History();
        Assert.Equal([inputs[3][0], inputs[4][0]], again.X);
        Assert.Equal(Math.Abs(inputs[4][0] - outputs[0][0]), again.ForecastError);
    }

    [Fact]
    public async Task Collector_CountsAppliedElementsAndRefusalsPerKind_Exactly_AndTheFleetCatchesUp()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("counted"));
        var before = Collector.Snapshot("test");
        var inputs = Models.Inputs(5, 5, 3);
        for (var t = 0; t < 3; t++)
        {
            await sequence.Step(t + 1, inputs[t]); // the default model: D = 3
        }

        await sequence.StepMany(2, [.. inputs.Skip(1).SelectMany(x => x)]); // 2 and 3 duplicates, 4 and 5 new
        await Assert.ThrowsAsync<ElementGapException>(() => sequence.Step(9, inputs[0]));
        await Assert.ThrowsAsync<InvalidInputException>(() => sequence.Step(6, [1.0]));
        await Assert.ThrowsAsync<InvalidInputException>(() => sequence.Step(6, [1.0, double.NaN, 2.0]));
        await sequence.Step(2, inputs[1]); // a duplicate: not counted

        var after = Collector.Snapshot("test");
        Assert.Equal(5, after.Elements - before.Elements);
        Assert.Equal(4, after.Latency.Sum() - before.Latency.Sum()); // 3 Steps and the StepMany applied something; refusals and duplicates record no latency
        Assert.Equal(1, Delta(RnnErrorKind.Gap));
        Assert.Equal(1, Delta(RnnErrorKind.WrongSize));
        Assert.Equal(1, Delta(RnnErrorKind.NonFinite));
        Assert.Equal(3, after.Refusals.Sum() - before.Refusals.Sum());

        await WaitUntil(async () => await Fleet() is var f && f.Elements >= after.Elements && f.ErrorsTotal.GetValueOrDefault("Gap") >= after.Refusals[(int)RnnErrorKind.Gap]);
        var fleet = await Fleet();
        Assert.Equal(after.Refusals[(int)RnnErrorKind.NonFinite], fleet.ErrorsTotal["NonFinite"]);
        Assert.Equal(after.Refusals[(int)RnnErrorKind.WrongSize], fleet.ErrorsTotal["WrongSize"]);
        Assert.NotNull(fleet.P99Ms);

        long Delta(RnnErrorKind kind) => after.Refusals[(int)kind] - (before.Refusals.Length > (int)kind ? before.Refusals[(int)kind] : 0);
    }
}
