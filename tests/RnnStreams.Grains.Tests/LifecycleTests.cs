using Orleans.TestingHost.Utils;
using RnnStreams.Core;
using RnnStreams.Grains;

namespace RnnStreams.Grains.Tests;

[Collection(LifecycleCollection.Name)]
public class LifecycleTests(LifecycleFixture fixture)
{
    private readonly IClusterClient _client = fixture.Client;

    private static async Task WaitUntil(Func<Task<bool>> condition, int seconds = 20) =>
        await TestingUtils.WaitUntilAsync(async _ => await condition(), TimeSpan.FromSeconds(seconds), TimeSpan.FromMilliseconds(100));

    private async Task<bool> IsActive(string sequence)
    {
        var grains = await _client.GetGrain<IManagementGrain>(0).GetActiveGrains(GrainType.Create("sequence"));
        return grains.Any(g => g.Key.ToString() == sequence);
    }

    [Fact]
    public async Task Durability_EveryStep_WritesEachElementBeforeAcknowledging()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("every"));
        await sequence.Start(new StartRequest(LifecycleFixture.EveryStepModel));
        for (var n = 1; n <= 5; n++)
        {
            await sequence.Step(n, [n, -n]);
            var snapshot = await sequence.Snapshot();
            Assert.Equal((n, (long)n, "EveryStep"), (snapshot.LastN, snapshot.LastDurableN, snapshot.Durability));
        }

        await sequence.StepMany(6, [1, 2, 3, 4]);
        Assert.Equal(7, (await sequence.Snapshot()).LastDurableN);
    }

    [Fact]
    public async Task Durability_Checkpoint_WritesEveryKElements()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("ckpt"));
        await sequence.Start(new StartRequest(LifecycleFixture.CheckpointModel));
        // Checkpoint(3, 0): a write starts once 2 elements (half the bound) are unwritten, so that it lands before a third
        // would have to wait for it; Snapshot waits for the write in flight.
        long[] expected = [0, 2, 2, 4, 4, 6];
        for (var n = 1; n <= 6; n++)
        {
            await sequence.Step(n, [n, 0]);
            Assert.Equal(expected[n - 1], (await sequence.Snapshot()).LastDurableN);
        }

        await sequence.StepMany(7, [1, 1]);
        Assert.Equal(6, (await sequence.Snapshot()).LastDurableN);
        await sequence.StepMany(8, [1, 1, 2, 2]);
        Assert.Equal((9L, 9L, "Checkpoint(3, 0)"), ((await sequence.Snapshot()).LastN, (await sequence.Snapshot()).LastDurableN, (await sequence.Snapshot()).Durability));
    }

    [Fact]
    public async Task Durability_CheckpointInterval_WritesWithinTheInterval()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("timer"));
        await sequence.Start(new StartRequest(LifecycleFixture.TimerModel));
        await sequence.StepMany(1, [1, 2, 3, 4]);
        var started = DateTime.UtcNow;
        await WaitUntil(async () => (await sequence.Snapshot()).LastDurableN == 2, seconds: 10);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task IdleSequence_IsDeactivated_WritingItsState_AndComesBack()
    {
        var id = Models.Key("idle");
        var sequence = _client.GetGrain<ISequenceGrain>(id);
        var inputs = Models.Inputs(3, 6, 2);
        await sequence.Start(new StartRequest(LifecycleFixture.NoneModel));
        await sequence.StepMany(1, [.. inputs.Take(4).SelectMany(x => x)]);
        var before = await sequence.Snapshot();
        Assert.Equal((4L, 0L, "None"), (before.LastN, before.LastDurableN, before.Durability));

        Assert.True(await IsActive(id));
        await WaitUntil(async () => !await IsActive(id)); // polling the management grain does not touch the sequence

        var after = await sequence.Snapshot();
        Assert.Equal((4L, 4L), (after.LastN, after.LastDurableN));
        Assert.Equal(before.Hidden, after.Hidden);
        var model = (await _client.GetGrain<IModelGrain>(LifecycleFixture.NoneModel).Get(1)).Model;
        Assert.Equal(Models.Offline(model, inputs)[4], (await sequence.Step(5, inputs[4])).Y);
    }

    [Fact]
    public async Task SilentSequence_Expires_WithReasonOnItsStream()
    {
        var id = Models.Key("expire");
        await using var outputs = await OutputCollector.SubscribeAsync(_client, id);
        var sequence = _client.GetGrain<ISequenceGrain>(id);
        await sequence.Step(1, [0.5, 0.5]); // implicit start on the default model

        var items = await outputs.WaitUntilAsync(i => i.Any(e => e.Kind == OutputKind.Ended), timeoutSeconds: 30);

        var ended = items.Single(e => e.Kind == OutputKind.Ended);
        Assert.Equal(("expired", 1L), (ended.Reason, ended.N));
        Assert.Equal(OutputKind.Ended, items[^1].Kind);
        await Assert.ThrowsAsync<SequenceNotStartedException>(() => sequence.Snapshot());
    }

    [Fact]
    public async Task Upgrade_KeepsStateWhenShapesAgree_RefusesOtherwise_ResetMovesToLatest()
    {
        var name = Models.Key("upgrade");
        var model = _client.GetGrain<IModelGrain>(name);
        var v1 = Models.Random(1, 2, 4, 1, name: name);
        var v2 = Models.Random(2, 2, 4, 1, name: name);
        var v3 = Models.Random(3, 2, 6, 1, name: name);
        await model.Publish(ModelFile.ToJson(v1));
        var id = Models.Key("upg");
        var sequence = _client.GetGrain<ISequenceGrain>(id);
        await using var outputs = await OutputCollector.SubscribeAsync(_client, id);
        await sequence.Start(new StartRequest(name));
        var inputs = Models.Inputs(4, 6, 2);
        await sequence.StepMany(1, [.. inputs.Take(3).SelectMany(x => x)]);

        await model.Publish(ModelFile.ToJson(v2));
        Assert.Equal(1, (await sequence.Snapshot()).ModelVersion); // publishing leaves running sequences where they are

        var upgraded = await sequence.Upgrade();
        Assert.Equal((2, 3L), (upgraded.ModelVersion, upgraded.LastN));
        var state = new double[4];
        var y = new double[1];
        foreach (var x in inputs.Take(3))
        {
            v1.Step(x, state, y);
        }

        Assert.Equal(state, upgraded.Hidden[0]);
        v2.Step(inputs[3], state, y);
        var step4 = await sequence.Step(4, inputs[3]);
        Assert.Equal((y[0], 2), (step4.Y[0], step4.ModelVersion));

        await model.Publish(ModelFile.ToJson(v3));
        var before = await sequence.Snapshot();
        var e = await Assert.ThrowsAsync<IncompatibleModelException>(() => sequence.Upgrade());
        Assert.Equal((RnnErrorKind.Incompatible, 2, 3), (e.Kind, e.FromVersion, e.ToVersion));
        Assert.Contains("state 1×4 → 1×6", e.Message);
        var after = await sequence.Snapshot();
        Assert.Equal((before.ModelVersion, before.LastN), (after.ModelVersion, after.LastN));
        Assert.Equal(before.Hidden, after.Hidden);

        var reset = await sequence.Reset();
        Assert.Equal((3, 0L), (reset.ModelVersion, reset.LastN));
        Assert.Equal(new double[6], reset.Hidden[0]);
        Assert.Equal(Models.Offline(v3, [inputs[0]])[0], (await sequence.Step(1, inputs[0])).Y);

        var events = await outputs.WaitUntilAsync(i => i.Any(o => o.Kind == OutputKind.Reset));
        var upgradedEvent = events.Single(o => o.Kind == OutputKind.Upgraded);
        Assert.Equal((3L, 2), (upgradedEvent.N, upgradedEvent.ModelVersion));
    }

    [Fact]
    public async Task DeleteVersion_RefusedWhileInUse_NumbersNeverReused()
    {
        var name = Models.Key("delete");
        var model = _client.GetGrain<IModelGrain>(name);
        await model.Publish(ModelFile.ToJson(Models.Random(1, 2, 4, 1, name: name)));
        var a = _client.GetGrain<ISequenceGrain>(Models.Key("a"));
        var b = _client.GetGrain<ISequenceGrain>(Models.Key("b"));
        await a.Start(new StartRequest(name));
        await b.Start(new StartRequest(name));
        await model.Publish(ModelFile.ToJson(Models.Random(2, 2, 4, 1, name: name)));
        Assert.Equal(new Dictionary<int, long> { [1] = 2 }, await model.GetUsage());

        var e = await Assert.ThrowsAsync<ModelVersionInUseException>(() => model.DeleteVersion(1));
        Assert.Equal((RnnErrorKind.InUse, 1, 2L), (e.Kind, e.Version, e.Sequences));
        Assert.Equal([1, 2], (await model.ListVersions()).Select(v => v.Version));

        await a.Upgrade();
        await b.End();
        Assert.Equal(new Dictionary<int, long> { [2] = 1 }, await model.GetUsage());
        await model.DeleteVersion(1);

        Assert.Equal([2], (await model.ListVersions()).Select(v => v.Version));
        await Assert.ThrowsAsync<UnknownModelException>(() => _client.GetGrain<ISequenceGrain>(Models.Key("c")).Start(new StartRequest(name, 1)));
        await Assert.ThrowsAsync<UnknownModelException>(() => model.DeleteVersion(1));
        Assert.Equal(3, (await model.Publish(ModelFile.ToJson(Models.Random(3, 2, 4, 1, name: name)))).Version);
    }
}
