using Microsoft.Extensions.Configuration;
using Orleans.TestingHost;
using RnnStreams.Core;
using RnnStreams.TestSupport;
using StackExchange.Redis;

namespace RnnStreams.Grains.Tests.Persistence;

[CollectionDefinition(Name)]
public sealed class RedisStorageCollection : ICollectionFixture<RedisClusterFixture>
{
    public const string Name = "redis storage";
}

[Collection(RedisStorageCollection.Name)]
public class RedisStorageTests(RedisClusterFixture fixture)
{
    private readonly IClusterClient _client = fixture.Client;

    [Fact]
    public async Task EveryStep_WhenStorageRefusesTheWrite_ElementIsRefusedAndStateUnchanged()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("refused"));
        var inputs = Models.Inputs(21, 8, 2);
        var expected = Models.Offline(fixture.EveryStepWeights, inputs);
        await sequence.StepMany(1, [.. inputs.Take(3).SelectMany(x => x)]);
        var before = await sequence.Snapshot();
        Assert.Equal((3L, 3L), (before.LastN, before.LastDurableN));

        await fixture.Redis.RefuseWritesAsync(true);
        try
        {
            var single = await Assert.ThrowsAsync<RnnStorageException>(() => sequence.Step(4, inputs[3]));
            Assert.Equal((RnnErrorKind.Storage, 4L), (single.Kind, single.N));
            var batch = await Assert.ThrowsAsync<RnnStorageException>(() => sequence.StepMany(4, [.. inputs.Skip(3).Take(3).SelectMany(x => x)]));
            Assert.Equal(4, batch.N);
            var fresh = _client.GetGrain<ISequenceGrain>(Models.Key("fresh"));
            await Assert.ThrowsAsync<RnnStorageException>(() => fresh.Step(1, inputs[0]));
            await Assert.ThrowsAsync<SequenceNotStartedException>(() => fresh.Snapshot());

            var during = await sequence.Snapshot();
            Assert.Equal((before.LastN, before.LastDurableN, before.UpdatedAt), (during.LastN, during.LastDurableN, during.UpdatedAt));
            Assert.Equal(before.Hidden, during.Hidden);
            Assert.Equal(expected[2], (await sequence.Step(3, inputs[2])).Y); // the stored answer of 3 was not overwritten
        }
        finally
        {
            await fixture.Redis.RefuseWritesAsync(false);
        }

        Assert.Equal(expected[3], (await sequence.Step(4, inputs[3])).Y);
        var rest = await sequence.StepMany(5, [.. inputs.Skip(4).SelectMany(x => x)]);
        Assert.Equal(expected.Skip(4).SelectMany(y => y).ToArray(), rest.Outputs);
        Assert.Equal((8L, 8L), ((await sequence.Snapshot()).LastN, (await sequence.Snapshot()).LastDurableN));
    }

    [Fact]
    public async Task ResetAndUpgrade_WhenStorageRefusesTheWrite_ChangeNothing()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("reset-refused"));
        await sequence.StepMany(1, [1, 2, 3, 4]);
        var before = await sequence.Snapshot();

        await fixture.Redis.RefuseWritesAsync(true);
        try
        {
            var e = await Assert.ThrowsAsync<RnnStorageException>(() => sequence.Reset());
            Assert.Equal(RnnErrorKind.Storage, e.Kind);
        }
        finally
        {
            await fixture.Redis.RefuseWritesAsync(false);
        }

        var after = await sequence.Snapshot();
        Assert.Equal((before.LastN, before.ModelVersion, before.UpdatedAt), (after.LastN, after.ModelVersion, after.UpdatedAt));
        Assert.Equal(before.Hidden, after.Hidden);
        Assert.Equal(0, (await sequence.Reset()).LastN); // and with storage back, the reset goes through
    }

    [Fact]
    public async Task Checkpoint_WhenStorageRefusesTheWrite_AcknowledgesUpToKUnwritten_ThenRefuses()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("lag"));
        await sequence.Start(new StartRequest(RedisClusterFixture.CheckpointModel));
        await sequence.StepMany(1, [1, 2, 3, 4]);
        Assert.Equal(2, (await sequence.Snapshot()).LastDurableN);

        await fixture.Redis.RefuseWritesAsync(true);
        try
        {
            // Checkpoint(2, 0): two more elements may be acknowledged unwritten; a third would break the bound.
            await sequence.StepMany(3, [1, 1, 2, 2]);
            var snapshot = await sequence.Snapshot();
            Assert.Equal((4L, 2L), (snapshot.LastN, snapshot.LastDurableN));
            var refused = await Assert.ThrowsAsync<RnnStorageException>(() => sequence.Step(5, [0, 0]));
            Assert.Equal((RnnErrorKind.Storage, 5L), (refused.Kind, refused.N));
            var after = await sequence.Snapshot();
            Assert.Equal((snapshot.LastN, snapshot.LastDurableN, snapshot.UpdatedAt), (after.LastN, after.LastDurableN, after.UpdatedAt));
            Assert.Equal(snapshot.Hidden, after.Hidden);
        }
        finally
        {
            await fixture.Redis.RefuseWritesAsync(false);
        }

        var answer = await sequence.Step(5, [0, 0]); // written with the two before it, before it is acknowledged
        Assert.Equal(5L, answer.DurableN);
        var written = await sequence.Snapshot();
        Assert.Equal((5L, 5L), (written.LastN, written.LastDurableN));
    }

    [Fact]
    public async Task Checkpoint_IsWrittenInTheBackground_StepsWaitOnlyAtTheBound()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("background"));
        await sequence.Start(new StartRequest(RedisClusterFixture.CheckpointModel));

        // Redis holds writes for 4 s. Under Checkpoint(2, 0) element 1 starts a checkpoint (half the bound); elements 1
        // and 2 are answered at once, unwritten. Element 3 would make three unwritten: it waits for the write in flight
        // (elements up to 1), and is answered with DurableN = 1.
        await fixture.Redis.PauseWritesAsync(TimeSpan.FromSeconds(4));
        var answers = new[] { await sequence.Step(1, [0.5, -0.5]), await sequence.Step(2, [1, 1]), await sequence.Step(3, [0.25, 2]) };
        Assert.Equal([0L, 0L, 1L], answers.Select(a => a.DurableN));

        var snapshot = await sequence.Snapshot(); // waits for the checkpoint in flight
        Assert.Equal((3L, 3L), (snapshot.LastN, snapshot.LastDurableN));
        Assert.Equal(4L, (await sequence.Step(4, [0, 0])).N);

        // What Redis holds is exactly the state of element 4: a new activation reads it back.
        var before = await sequence.Snapshot();
        Assert.Equal((4L, 4L), (before.LastN, before.LastDurableN));
        await _client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        var after = await sequence.Snapshot();
        Assert.Equal(before.Hidden, after.Hidden);
        Assert.Equal(4L, after.LastN);
    }

    [Fact]
    public async Task VersionConflict_RefusesTheElement_AndTheNextCallReadsTheStoredState()
    {
        var id = Models.Key("conflict");
        var sequence = _client.GetGrain<ISequenceGrain>(id);
        var inputs = Models.Inputs(41, 4, 2);
        var expected = Models.Offline(fixture.EveryStepWeights, inputs);
        await sequence.StepMany(1, [.. inputs.Take(2).SelectMany(x => x)]);

        // Another writer (a second activation during a silo failure) changes the record's version under this activation.
        var keys = await fixture.Redis.CommandAsync($"KEYS *sequence/{id}*");
        var key = keys.Split("\r\n")[2];
        Assert.StartsWith(":0", await fixture.Redis.CommandAsync($"HSET {key} etag someone-else"));

        var refused = await Assert.ThrowsAsync<RnnStorageException>(() => sequence.Step(3, inputs[2]));
        Assert.Contains("Version conflict", refused.Message);

        // The stale activation is gone; the next call reads what Redis holds (elements 1–2) and goes on exactly once.
        Assert.Equal(expected[2], (await sequence.Step(3, inputs[2])).Y);
        var snapshot = await sequence.Snapshot();
        Assert.Equal((3L, 3L), (snapshot.LastN, snapshot.LastDurableN));
        Assert.Equal(expected[3], (await sequence.Step(4, inputs[3])).Y);
    }

    [Fact]
    public async Task State_IsReadBackFromRedis_AfterDeactivation()
    {
        var id = Models.Key("redis-reload");
        var sequence = _client.GetGrain<ISequenceGrain>(id);
        var inputs = Models.Inputs(31, 10, 2);
        var expected = Models.Offline(fixture.EveryStepWeights, inputs);
        await sequence.StepMany(1, [.. inputs.Take(6).SelectMany(x => x)]);
        var before = await sequence.Snapshot();

        await _client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);

        var after = await sequence.Snapshot();
        Assert.Equal(before.Hidden, after.Hidden);
        Assert.Equal((6L, 6L, "EveryStep"), (after.LastN, after.LastDurableN, after.Durability));
        Assert.Equal(expected[5], (await sequence.Step(6, inputs[5])).Y);
        Assert.Equal(expected[6], (await sequence.Step(7, inputs[6])).Y);

        Assert.StartsWith("*1\r\n", await fixture.Redis.CommandAsync($"KEYS *sequence/{id}*"));
        await sequence.End();
        Assert.Equal("*0\r\n", await fixture.Redis.CommandAsync($"KEYS *sequence/{id}*")); // an ended sequence leaves nothing in Redis
        await Assert.ThrowsAsync<SequenceNotStartedException>(() => sequence.Snapshot());
    }
}
