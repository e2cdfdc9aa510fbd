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
    public async Task ASequenceReactivatedFromStorage_PublishesUntilItsWatcherRenews()
    {
        // A watcher's lease lives in the activation; when the sequence comes back from storage (its silo died, or it
        // was deactivated) the watcher's next renewal is up to OutputWatch.RenewEvery away. Until then it publishes.
        var id = Models.Key("reactivated");
        var sequence = _client.GetGrain<ISequenceGrain>(id);
        await using var outputs = await OutputCollector.SubscribeAsync(_client, id, lease: false);
        await sequence.Step(1, [1]); // not watched: not published
        await _client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        Assert.Equal(1, (await sequence.Snapshot()).LastDurableN); // reactivated from what the old activation wrote
        await sequence.Step(2, [2]);
        var items = await outputs.WaitUntilAsync(i => i.Count >= 1);
        Assert.Equal([(OutputKind.Step, 2L)], items.Select(i => (i.Kind, i.N)));
    }
}
