using Orleans.TestingHost;
using RnnStreams.Core;

namespace RnnStreams.Grains.Tests;

/// <summary>A silo that publishes outputs only while a subscriber holds a Watch lease (set explicitly: it is the default).</summary>
public sealed class WatchedOutputsFixture : IAsyncLifetime
{
    public const string Model = "watched-model";

    public TestCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Cluster = await TestClusters.DeployAsync<SiloConfigurator>(1);
        await Cluster.Client.GetGrain<IModelGrain>(Model).Publish(ModelFile.ToJson(Models.Random(5, 1, 3, 1, name: Model)));
    }

    public async Task DisposeAsync()
    {
        await TestClusters.StopAsync(Cluster);
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder
            .AddRnnStreams(configure: o =>
            {
                o.DefaultModel = Model;
                o.PublishOutputs = OutputPublishing.WhenWatched;
            })
            .AddRnnStreamsInMemory();
    }
}

public class WatchedOutputsTests : IClassFixture<WatchedOutputsFixture>
{
    private readonly IClusterClient _client;

    public WatchedOutputsTests(WatchedOutputsFixture fixture) => _client = fixture.Cluster.Client;

    [Fact]
    public async Task WhenWatched_OnlyOutputsUnderALeaseArePublished_LifecycleEventsAlways()
    {
        var id = Models.Key("watched");
        var sequence = _client.GetGrain<ISequenceGrain>(id);
        await using var outputs = await OutputCollector.SubscribeAsync(_client, id, lease: false);
        var answers = new List<StepResult>();
        for (var n = 1; n <= 3; n++)
        {
            answers.Add(await sequence.Step(n, [n]));
        }

        Assert.Equal(3, await sequence.Watch(TimeSpan.FromMinutes(1)));
        for (var n = 4; n <= 5; n++)
        {
            answers.Add(await sequence.Step(n, [n]));
        }

        await sequence.End();
        var items = await outputs.WaitUntilAsync(i => i.Any(e => e.Kind == OutputKind.Ended));

        // One stream, delivered in order: the Ended event comes after everything published before it.
        Assert.Equal([(OutputKind.Step, 4L), (OutputKind.Step, 5L), (OutputKind.Ended, 5L)], items.Select(i => (i.Kind, i.N)));
        Assert.Equal(answers[3].Y, items[0].Y);
        await Assert.ThrowsAsync<RnnArgumentException>(() => sequence.Watch(TimeSpan.Zero));
    }

    [Fact]
    public void Default_IsWhenWatched()
    {
        Assert.Equal(OutputPublishing.WhenWatched, new RnnStreamsOptions().PublishOutputs);
    }

    [Fact]
    public async Task AWatchersLease_OutlivesTheActivation_ThatTookIt()
    {
        // The lease is stored with the state: when the sequence comes back from storage (its silo died, or it was
        // deactivated) it goes on publishing to its watcher before the watcher's next renewal. A sequence nobody watched
        // does not start publishing because it was reactivated.
        var watched = Models.Key("reactivated-watched");
        var unwatched = Models.Key("reactivated-unwatched");
        await using var watchedOutputs = await OutputCollector.SubscribeAsync(_client, watched, lease: false);
        await using var unwatchedOutputs = await OutputCollector.SubscribeAsync(_client, unwatched, lease: false);
        var w = _client.GetGrain<ISequenceGrain>(watched);
        var u = _client.GetGrain<ISequenceGrain>(unwatched);
        await w.Step(1, [1]);
        await u.Step(1, [1]);
        await w.Watch(TimeSpan.FromMinutes(1));
        await w.Step(2, [2]);
        await u.Step(2, [2]);
        await watchedOutputs.WaitUntilAsync(i => i.Any(e => e.N == 2)); // published (off the step's path) before the collection
        await _client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        Assert.Equal(2, (await w.Snapshot()).LastDurableN); // both reactivated from what their activations wrote
        Assert.Equal(2, (await u.Snapshot()).LastDurableN);
        await w.Step(3, [3]);
        await u.Step(3, [3]);
        await u.End();
        await w.End();

        var items = await watchedOutputs.WaitUntilAsync(i => i.Any(e => e.Kind == OutputKind.Ended));
        Assert.Equal([(OutputKind.Step, 2L), (OutputKind.Step, 3L), (OutputKind.Ended, 3L)], items.Select(i => (i.Kind, i.N)));
        var others = await unwatchedOutputs.WaitUntilAsync(i => i.Any(e => e.Kind == OutputKind.Ended));
        Assert.Equal([(OutputKind.Ended, 3L)], others.Select(i => (i.Kind, i.N)));
    }
}
