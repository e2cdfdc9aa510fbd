using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Orleans.TestingHost;
using Orleans.TestingHost.Utils;
using RnnStreams.Core;
using RnnStreams.TestSupport;
using StackExchange.Redis;

namespace RnnStreams.Grains.Tests.Persistence;

/// <summary>
/// A one-silo TestingHost cluster whose grain storage is a real redis-server that the tests refuse, pause, freeze and
/// wipe: storage failures, outages and loss as an operator meets them. Each collection gets its own Redis and cluster
/// (a wipe takes the models with it). Sequences default to <c>EveryStep</c>; <see cref="CheckpointModel"/>'s run under
/// <c>Checkpoint(2, 0)</c>.
/// </summary>
public sealed class RedisClusterFixture : IAsyncLifetime
{
    public const string EveryStepModel = "outage-every-step";
    public const string CheckpointModel = "outage-checkpoint";
    public const int Bound = 2;

    public RedisServer Redis { get; private set; } = null!;

    public TestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    public RnnModel EveryStepWeights { get; } = Models.Random(61, 2, 5, 2, name: EveryStepModel);

    public RnnModel CheckpointWeights { get; } = Models.Random(62, 2, 5, 2, name: CheckpointModel);

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        Cluster = await TestClusters.DeployAsync<SiloConfigurator>(1, new Dictionary<string, string> { ["RedisConnection"] = Redis.ConnectionString });
        await Client.GetGrain<IModelGrain>(EveryStepModel).Publish(ModelFile.ToJson(EveryStepWeights));
        await Client.GetGrain<IModelGrain>(CheckpointModel).Publish(ModelFile.ToJson(CheckpointWeights));
    }

    public async Task DisposeAsync()
    {
        await Redis.ThawAsync(); // a failed test may leave it frozen
        await TestClusters.StopAsync(Cluster);
        await Redis.DisposeAsync();
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            var redis = ConfigurationOptions.Parse(siloBuilder.Configuration["RedisConnection"]!);
            redis.AbortOnConnectFail = false;
            siloBuilder
                .AddRnnStreams(configure: o =>
                {
                    o.DefaultModel = EveryStepModel;
                    o.Durability = "EveryStep";
                    o.ModelDurability[CheckpointModel] = $"Checkpoint({Bound}, 0)";
                    o.StorageRetryInterval = TimeSpan.FromMilliseconds(500);
                })
                .AddRedisGrainStorage(RnnConstants.Storage, o =>
                {
                    o.ConfigurationOptions = redis;
                    o.DeleteStateOnClear = true;
                })
                .AddMemoryGrainStorage(RnnConstants.PubSubStorage)
                .AddMemoryStreams(RnnConstants.StreamProvider)
                .UseInMemoryReminderService();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class OutageCollection : ICollectionFixture<RedisClusterFixture>
{
    public const string Name = "storage outage";
}

[CollectionDefinition(Name)]
public sealed class StorageLossCollection : ICollectionFixture<RedisClusterFixture>
{
    public const string Name = "storage loss";
}

[Collection(OutageCollection.Name)]
public class StorageOutageTests(RedisClusterFixture fixture)
{
    private readonly IClusterClient _client = fixture.Client;

    [Fact]
    public async Task EveryStep_WhileStorageIsDown_RefusesAtOnce_AndRecoversWhenItAnswers()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("frozen"));
        var inputs = Models.Inputs(63, 8, 2);
        var expected = Models.Offline(fixture.EveryStepWeights, inputs);
        await sequence.StepMany(1, [.. inputs.Take(3).SelectMany(x => x)]);
        var before = await sequence.Snapshot();

        await fixture.Redis.FreezeAsync();
        try
        {
            // The first write waits out the Redis client's timeout; it opens the silo's storage circuit.
            var first = await Assert.ThrowsAsync<RnnStorageException>(() => sequence.Step(4, inputs[3]));
            Assert.Equal((RnnErrorKind.Storage, 4L), (first.Kind, first.N));

            // From then on a write is not tried (the circuit probes storage by itself): refused at once, well inside the
            // 5 s the client's timeout would take.
            var waited = new List<TimeSpan>();
            for (var i = 0; i < 5; i++)
            {
                var started = Stopwatch.GetTimestamp();
                var refused = await Assert.ThrowsAsync<RnnStorageException>(() => sequence.Step(4, inputs[3]));
                Assert.Equal(4L, refused.N);
                waited.Add(Stopwatch.GetElapsedTime(started));
            }

            Assert.All(waited, w => Assert.True(w < TimeSpan.FromSeconds(2.5), string.Join(", ", waited)));

            var during = await sequence.Snapshot();
            Assert.Equal((before.LastN, before.LastDurableN, before.UpdatedAt), (during.LastN, during.LastDurableN, during.UpdatedAt));
            Assert.Equal(before.Hidden, during.Hidden);
        }
        finally
        {
            await fixture.Redis.ThawAsync();
        }

        // Recovery: the next probe after Redis answers closes the circuit.
        var answer = await WhenStorageAnswers(() => sequence.Step(4, inputs[3]));
        Assert.Equal(expected[3], answer.Y);
        Assert.Equal(4L, answer.DurableN);
        for (var t = 4; t < 8; t++)
        {
            Assert.Equal(expected[t], (await sequence.Step(t + 1, inputs[t])).Y);
        }
    }

    [Fact]
    public async Task Checkpoint_WhileStorageIsDown_AcknowledgesAtMostKUnwritten_AndDeactivationLosesNoMore()
    {
        var id = Models.Key("bound");
        var sequence = _client.GetGrain<ISequenceGrain>(id);
        await sequence.Start(new StartRequest(RedisClusterFixture.CheckpointModel));
        var inputs = Models.Inputs(64, 40, 2);
        var expected = Models.Offline(fixture.CheckpointWeights, inputs);
        await sequence.StepMany(1, [.. inputs.Take(4).SelectMany(x => x)]);
        var durable = (await sequence.Snapshot()).LastDurableN;

        long acknowledged = 4;
        await fixture.Redis.FreezeAsync();
        try
        {
            RnnStorageException? refused = null;
            for (var n = 5; n <= 20 && refused is null; n++)
            {
                try
                {
                    var answer = await sequence.Step(n, inputs[n - 1]);
                    Assert.Equal(expected[n - 1], answer.Y);
                    acknowledged = n;
                }
                catch (RnnStorageException e)
                {
                    refused = e;
                }
            }

            // Never more than k acknowledged elements that storage does not hold.
            Assert.NotNull(refused);
            Assert.Equal(acknowledged + 1, refused.N);
            Assert.InRange(acknowledged - durable, 1, RedisClusterFixture.Bound);
            var snapshot = await sequence.Snapshot();
            Assert.Equal((acknowledged, durable), (snapshot.LastN, snapshot.LastDurableN));

            // Deactivated during the outage (a silo shutting down): its write is not tried, and what is lost is what
            // the bound allowed to be at risk.
            await _client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        }
        finally
        {
            await fixture.Redis.ThawAsync();
        }

        var after = await WhenStorageAnswers(() => sequence.Snapshot());
        Assert.InRange(after.LastN, acknowledged - RedisClusterFixture.Bound, acknowledged);
        Assert.Equal(after.LastN, after.LastDurableN);

        // The sequence goes on from what storage held, exactly: the lost elements are sent again.
        for (var n = after.LastN + 1; n <= after.LastN + 6; n++)
        {
            Assert.Equal(expected[n - 1], (await sequence.Step(n, inputs[n - 1])).Y);
        }
    }

    /// <summary>The call's answer once it is no longer refused with <see cref="RnnStorageException"/> (storage is back).</summary>
    internal static async Task<T> WhenStorageAnswers<T>(Func<Task<T>> call)
    {
        T? answer = default;
        await TestingUtils.WaitUntilAsync(
            async _ =>
            {
                try
                {
                    answer = await call();
                    return true;
                }
                catch (RnnStorageException)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(30),
            TimeSpan.FromMilliseconds(100));
        return answer!;
    }
}

[Collection(StorageLossCollection.Name)]
public class StorageLossTests(RedisClusterFixture fixture)
{
    private readonly IClusterClient _client = fixture.Client;

    [Fact]
    public async Task RedisRestartedEmpty_RunningSequences_SayStateLost_UntilResetOrEnded()
    {
        var everyStep = _client.GetGrain<ISequenceGrain>(Models.Key("wiped-every"));
        var checkpoint = _client.GetGrain<ISequenceGrain>(Models.Key("wiped-checkpoint"));
        var ended = _client.GetGrain<ISequenceGrain>(Models.Key("wiped-ended"));
        var inputs = Models.Inputs(65, 30, 2);
        await ended.StepMany(1, [.. inputs.Take(2).SelectMany(x => x)]);
        await _client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero); // not active when Redis is wiped
        await everyStep.StepMany(1, [.. inputs.Take(5).SelectMany(x => x)]);
        await checkpoint.Start(new StartRequest(RedisClusterFixture.CheckpointModel));
        await checkpoint.StepMany(1, [.. inputs.Take(2).SelectMany(x => x)]);

        await fixture.Redis.RestartEmptyAsync(); // the README's old recipe: no persistence, one restart

        // EveryStep: the next element's write finds the record gone. Not "expects element 1": StateLost, naming n = 5.
        var stateLost = await Assert.ThrowsAsync<StateLostException>(() => StorageOutageTests.WhenStorageAnswers(() => everyStep.Step(6, inputs[5])));
        Assert.Equal((RnnErrorKind.StateLost, 5L), (stateLost.Kind, stateLost.LastN));
        Assert.Equal(5L, (await Assert.ThrowsAsync<StateLostException>(() => everyStep.Step(6, inputs[5]))).LastN);
        await Assert.ThrowsAsync<StateLostException>(() => everyStep.Snapshot());

        // Checkpoint: acknowledged in memory until its checkpoint finds the record gone; then every element is refused.
        long n = 3;
        StateLostException? checkpointLost = null;
        for (; n <= 20 && checkpointLost is null; n++)
        {
            try
            {
                await checkpoint.Step(n, inputs[n - 1]);
            }
            catch (StateLostException e)
            {
                checkpointLost = e;
            }
            catch (RnnStorageException)
            {
                n--; // the silo's Redis connection was still coming back: send it again
            }
        }

        Assert.NotNull(checkpointLost);
        Assert.InRange(checkpointLost.LastN, 2, 20);

        // The mark is stored: a new activation still says so.
        await _client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        Assert.Equal(5L, (await Assert.ThrowsAsync<StateLostException>(() => everyStep.Step(6, inputs[5]))).LastN);

        // Reset starts it again from h_0 on its model (published again: the wipe took the models too); End removes it.
        await _client.GetGrain<IModelGrain>(RedisClusterFixture.EveryStepModel).Publish(ModelFile.ToJson(fixture.EveryStepWeights));
        var reset = await everyStep.Reset();
        Assert.Equal(0L, reset.LastN);
        var fresh = Models.Offline(fixture.EveryStepWeights, inputs.Take(3));
        for (var t = 0; t < 3; t++)
        {
            Assert.Equal(fresh[t], (await everyStep.Step(t + 1, inputs[t])).Y);
        }

        await checkpoint.End();
        await Assert.ThrowsAsync<SequenceNotStartedException>(() => checkpoint.Snapshot());

        // A sequence that was not active when its record vanished cannot know it ran; its gap says what may have happened.
        var gap = await Assert.ThrowsAsync<ElementGapException>(() => ended.Step(3, inputs[2]));
        Assert.Contains("storage lost it", gap.Message);
    }
}
