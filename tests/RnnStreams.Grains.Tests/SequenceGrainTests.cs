using RnnStreams.Core;

namespace RnnStreams.Grains.Tests;

[Collection(ClusterCollection.Name)]
public class SequenceGrainTests(ClusterFixture fixture)
{
    private readonly IClusterClient _client = fixture.Client;

    private async Task<(string Model, RnnModel Weights)> PublishAsync(int seed, int d = 3, int h = 7, int o = 2, int layers = 1,
        OutputHead head = OutputHead.Linear, CellType cell = CellType.RnnTanh)
    {
        var name = Models.Key("model");
        var weights = Models.Random(seed, d, h, o, layers, cell, head, name);
        var info = await _client.GetGrain<IModelGrain>(name).Publish(ModelFile.ToJson(weights));
        Assert.Equal(1, info.Version);
        return (name, weights);
    }

    [Theory]
    [InlineData(1, 1, 1, 1, OutputHead.Linear, CellType.RnnTanh)]
    [InlineData(3, 7, 2, 1, OutputHead.Linear, CellType.RnnTanh)]
    [InlineData(5, 13, 4, 2, OutputHead.Softmax, CellType.RnnRelu)]
    [InlineData(2, 9, 1, 3, OutputHead.Sigmoid, CellType.RnnTanh)]
    [InlineData(3, 6, 2, 2, OutputHead.Linear, CellType.Gru)]
    [InlineData(4, 5, 3, 2, OutputHead.Softmax, CellType.Lstm)]
    public async Task Step_GrainPath_EqualsOfflineKernel(int d, int h, int o, int layers, OutputHead head, CellType cell)
    {
        var (model, weights) = await PublishAsync(d * h, d, h, o, layers, head, cell);
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("seq"));
        await sequence.Start(new StartRequest(model));
        var inputs = Models.Inputs(h, 40, d);
        var expected = Models.Offline(weights, inputs);

        for (var t = 0; t < inputs.Length; t++)
        {
            var result = await sequence.Step(t + 1, inputs[t]);
            Assert.Equal(t + 1, result.N);
            Assert.Equal(1, result.ModelVersion);
            Assert.False(result.Duplicate);
            Assert.Equal(expected[t], result.Y);
        }

        var snapshot = await sequence.Snapshot();
        Assert.Equal(40, snapshot.LastN);
        Assert.Equal(layers, snapshot.Hidden.Length);
    }

    [Fact]
    public async Task StepMany_EqualsStepByStep_AndOneBatchResult()
    {
        var (model, weights) = await PublishAsync(21);
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("seq"));
        await sequence.Start(new StartRequest(model));
        var inputs = Models.Inputs(22, 100, 3);
        var expected = Models.Offline(weights, inputs);

        var first = await sequence.StepMany(1, [.. inputs.Take(64).SelectMany(x => x)]);
        var second = await sequence.StepMany(65, [.. inputs.Skip(64).SelectMany(x => x)]);

        Assert.Equal((1L, 64, 2, 0), (first.FirstN, first.Count, first.OutputSize, first.Duplicates));
        Assert.Equal((65L, 36), (second.FirstN, second.Count));
        for (var t = 0; t < 100; t++)
        {
            var actual = t < 64 ? first.Output(t) : second.Output(t - 64);
            Assert.Equal(expected[t], actual.ToArray());
        }

        Assert.Equal(100, (await sequence.Snapshot()).LastN);
    }

    [Fact]
    public async Task Step_InterleavedSequences_AreIndependent()
    {
        var (model, weights) = await PublishAsync(31);
        var a = _client.GetGrain<ISequenceGrain>(Models.Key("a"));
        var b = _client.GetGrain<ISequenceGrain>(Models.Key("b"));
        await a.Start(new StartRequest(model));
        await b.Start(new StartRequest(model));
        var xa = Models.Inputs(32, 20, 3);
        var xb = Models.Inputs(33, 20, 3);
        var ya = Models.Offline(weights, xa);
        var yb = Models.Offline(weights, xb);

        for (var t = 0; t < 20; t++)
        {
            var ra = a.Step(t + 1, xa[t]);
            var rb = b.Step(t + 1, xb[t]);
            Assert.Equal(ya[t], (await ra).Y);
            Assert.Equal(yb[t], (await rb).Y);
        }
    }

    [Fact]
    public async Task Step_ImplicitStart_UsesDefaultModel()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("implicit"));
        var inputs = Models.Inputs(41, 5, 3);
        var expected = Models.Offline(fixture.Default, inputs);

        for (var t = 0; t < 5; t++)
        {
            Assert.Equal(expected[t], (await sequence.Step(t + 1, inputs[t])).Y);
        }

        var snapshot = await sequence.Snapshot();
        Assert.Equal((ClusterFixture.DefaultModel, 1, 5L), (snapshot.Model, snapshot.ModelVersion, snapshot.LastN));
    }

    [Fact]
    public async Task Start_WithInitialState_StartsFromIt()
    {
        var (model, weights) = await PublishAsync(51, d: 2, h: 4, o: 1, layers: 2);
        double[][] h0 = [[0.1, -0.2, 0.3, -0.4], [0.5, 0.6, -0.7, 0.8]];
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("h0"));
        var started = await sequence.Start(new StartRequest(model, 1, h0));
        Assert.Equal(h0, started.Hidden);

        var inputs = Models.Inputs(52, 10, 2);
        var expected = Models.Offline(weights, inputs, [.. h0.SelectMany(r => r)]);
        var result = await sequence.StepMany(1, [.. inputs.SelectMany(x => x)]);
        Assert.Equal(expected.SelectMany(y => y).ToArray(), result.Outputs);

        var reset = await sequence.Reset();
        Assert.Equal(0, reset.LastN);
        Assert.Equal(h0, reset.Hidden);
        Assert.Equal(expected[0], (await sequence.Step(1, inputs[0])).Y);
    }

    [Fact]
    public async Task Start_Lstm_WithInitialHiddenAndCellState_StartsFromBoth_AndSnapshotShowsC()
    {
        var (model, weights) = await PublishAsync(61, d: 2, h: 3, o: 1, layers: 2, cell: CellType.Lstm);
        double[][] h0 = [[0.1, -0.2, 0.3], [0.5, 0.6, -0.7]];
        double[][] c0 = [[1.5, -0.25, 0.75], [-2, 0.5, 0.125]];
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("c0"));
        var started = await sequence.Start(new StartRequest(model, 1, h0, c0));
        Assert.Equal(h0, started.Hidden);
        Assert.Equal(c0, started.Cell);

        var inputs = Models.Inputs(62, 10, 2);
        double[] initial = [.. h0.SelectMany(r => r), .. c0.SelectMany(r => r)];
        var expected = Models.Offline(weights, inputs, initial);
        Assert.NotEqual(Models.Offline(weights, inputs, [.. h0.SelectMany(r => r), 0, 0, 0, 0, 0, 0]), expected); // c_0 matters
        var result = await sequence.StepMany(1, [.. inputs.SelectMany(x => x)]);
        Assert.Equal(expected.SelectMany(y => y).ToArray(), result.Outputs);

        var state = initial.ToArray();
        var y = new double[1];
        foreach (var x in inputs)
        {
            weights.Step(x, state, y);
        }

        var snapshot = await sequence.Snapshot();
        Assert.Equal(state[..6], snapshot.Hidden.SelectMany(r => r).ToArray());
        Assert.Equal(state[6..], snapshot.Cell!.SelectMany(r => r).ToArray());

        var reset = await sequence.Reset();
        Assert.Equal(h0, reset.Hidden);
        Assert.Equal(c0, reset.Cell);
        Assert.Equal(expected[0], (await sequence.Step(1, inputs[0])).Y);
    }

    [Fact]
    public async Task Start_Again_SameModelIsNoOp_OtherModelIsRefused()
    {
        var (model, _) = await PublishAsync(61);
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("restart"));
        await sequence.Start(new StartRequest(model));
        await sequence.Step(1, [1, 2, 3]);

        var again = await sequence.Start(new StartRequest(model));
        Assert.Equal(1, again.LastN);

        var e = await Assert.ThrowsAsync<SequenceAlreadyStartedException>(() => sequence.Start(new StartRequest(ClusterFixture.DefaultModel)));
        Assert.Equal((RnnErrorKind.AlreadyStarted, model, 1L), (e.Kind, e.Model, e.LastN));
        Assert.Equal(1, (await sequence.Snapshot()).LastN);
    }

    [Fact]
    public async Task End_PublishesEndedAndForgetsState()
    {
        var (model, weights) = await PublishAsync(71);
        var id = Models.Key("end");
        var sequence = _client.GetGrain<ISequenceGrain>(id);
        await using var outputs = await OutputCollector.SubscribeAsync(_client, id);
        await sequence.Start(new StartRequest(model));
        await sequence.Step(1, [1, 1, 1]);
        await sequence.End();

        var items = await outputs.WaitUntilAsync(i => i.Any(e => e.Kind == OutputKind.Ended));
        Assert.Equal([OutputKind.Step, OutputKind.Ended], items.Select(i => i.Kind));
        Assert.Equal(("ended", 1L), (items[1].Reason, items[1].N));
        await Assert.ThrowsAsync<SequenceNotStartedException>(() => sequence.Snapshot());

        // A new life starts from element 1 on the default model.
        Assert.Equal(Models.Offline(fixture.Default, [[1.0, 1, 1]])[0], (await sequence.Step(1, [1, 1, 1])).Y);
    }

    [Fact]
    public async Task Outputs_ReachSubscriber_InOrder()
    {
        var (model, weights) = await PublishAsync(81);
        var id = Models.Key("order");
        var sequence = _client.GetGrain<ISequenceGrain>(id);
        await using var outputs = await OutputCollector.SubscribeAsync(_client, id);
        await sequence.Start(new StartRequest(model));
        var inputs = Models.Inputs(82, 150, 3);
        var expected = Models.Offline(weights, inputs);

        for (var t = 0; t < 50; t++)
        {
            await sequence.Step(t + 1, inputs[t]);
        }

        await sequence.StepMany(51, [.. inputs.Skip(50).Take(64).SelectMany(x => x)]);
        await sequence.StepMany(115, [.. inputs.Skip(114).SelectMany(x => x)]);

        var items = await outputs.WaitUntilAsync(i => i.Count >= 150);
        Assert.Equal(150, items.Count);
        for (var t = 0; t < 150; t++)
        {
            Assert.Equal((id, t + 1L, OutputKind.Step, 1), (items[t].Sequence, items[t].N, items[t].Kind, items[t].ModelVersion));
            Assert.Equal(expected[t], items[t].Y);
        }
    }

    [Fact]
    public async Task InputStream_ElementsAreAppliedAndPublished()
    {
        var id = Models.Key("in-stream");
        await using var outputs = await OutputCollector.SubscribeAsync(_client, id);
        var input = _client.GetStreamProvider(RnnConstants.StreamProvider).GetStream<SequenceInput>(RnnConstants.InputStream(id));
        var inputs = Models.Inputs(91, 30, 3);
        var expected = Models.Offline(fixture.Default, inputs);

        for (var t = 0; t < 20; t++)
        {
            await input.OnNextAsync(new SequenceInput(t + 1, inputs[t]));
        }

        await input.OnNextAsync(new SequenceInput(5, inputs[4]));                    // duplicate: dropped
        await input.OnNextAsync(new SequenceInput(21, [double.NaN, 0, 0]));          // refused: an Error event
        await input.OnNextAsync(new SequenceInput(23, inputs[22]));                  // gap: an Error event
        await input.OnNextBatchAsync(Enumerable.Range(20, 10).Select(t => new SequenceInput(t + 1, inputs[t])));

        var items = await outputs.WaitUntilAsync(i => i.Count(e => e.Kind == OutputKind.Step) >= 30);
        var steps = items.Where(i => i.Kind == OutputKind.Step).ToList();
        Assert.Equal(Enumerable.Range(1, 30).Select(n => (long)n), steps.Select(s => s.N));
        Assert.Equal(expected, steps.Select(s => s.Y));
        var errors = items.Where(i => i.Kind == OutputKind.Error).ToList();
        Assert.Equal([21L, 23L], errors.Select(e => e.N));
        Assert.Contains("NaN", errors[0].Reason);
        Assert.Contains("expects element 21", errors[1].Reason);
        Assert.Equal(30, (await _client.GetGrain<ISequenceGrain>(id).Snapshot()).LastN);
    }

    [Fact]
    public async Task Checkpoints_AreWrittenEveryKSteps()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("ckpt"));
        var inputs = Models.Inputs(101, 12, 3);
        for (var t = 0; t < 7; t++)
        {
            await sequence.Step(t + 1, inputs[t]);
        }

        // Checkpoint(5, 0): writes start in the background once 3 elements are unwritten; never more than 5 are.
        var snapshot = await sequence.Snapshot();
        Assert.Equal(7L, snapshot.LastN);
        Assert.InRange(snapshot.LastDurableN, 7 - ClusterFixture.CheckpointEvery, 7);

        // Five more at once: acknowledged with at most 5 unwritten (written first if more would be).
        var batch = await sequence.StepMany(8, [.. inputs.Skip(7).SelectMany(x => x)]);
        Assert.InRange(batch.DurableN, 12 - ClusterFixture.CheckpointEvery, 12);
        snapshot = await sequence.Snapshot();
        Assert.Equal((12L, 12L), (snapshot.LastN, snapshot.LastDurableN));
    }

    [Fact]
    public async Task State_SurvivesDeactivation()
    {
        var (model, weights) = await PublishAsync(111);
        var id = Models.Key("deact");
        var sequence = _client.GetGrain<ISequenceGrain>(id);
        await sequence.Start(new StartRequest(model));
        var inputs = Models.Inputs(112, 20, 3);
        var expected = Models.Offline(weights, inputs);
        for (var t = 0; t < 13; t++)
        {
            await sequence.Step(t + 1, inputs[t]);
        }

        var before = await sequence.Snapshot();
        // Checkpoint(5, 0): written in the background, never more than 5 elements behind.
        Assert.InRange(before.LastDurableN, 13 - ClusterFixture.CheckpointEvery, 13);
        var management = _client.GetGrain<IManagementGrain>(0);
        await management.ForceActivationCollection(TimeSpan.Zero);

        var after = await sequence.Snapshot();
        Assert.Equal(13, after.LastN);
        Assert.Equal(13, after.LastDurableN); // 13, not 10: the old activation wrote its state as it deactivated
        Assert.Equal(before.Hidden, after.Hidden);
        Assert.Equal(expected[12], (await sequence.Step(13, inputs[12])).Y); // the stored answer survived too
        for (var t = 13; t < 20; t++)
        {
            Assert.Equal(expected[t], (await sequence.Step(t + 1, inputs[t])).Y);
        }
    }
}
