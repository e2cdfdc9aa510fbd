using RnnStreams.Core;

namespace RnnStreams.Grains.Tests;

[Collection(TwoSiloCollection.Name)]
public class TwoSiloTests(TwoSiloFixture fixture)
{
    private readonly IClusterClient _client = fixture.Client;

    [Fact]
    public async Task TwoSilos_ShareModelVersions_EachCachesItsOwnCopy()
    {
        var name = Models.Key("two");
        var weights = Models.Random(6, 2, 5, 1, name: name);
        var model = _client.GetGrain<IModelGrain>(name);
        await model.Publish(ModelFile.ToJson(weights));
        var loadsBefore = fixture.Caches.Select(c => c.Loads).ToArray();

        // Each silo's cache fetches the same version from the one model grain (placement alone might put every
        // sequence below on one silo, so ask both caches directly first).
        foreach (var cache in fixture.Caches)
        {
            var fetched = await cache.GetAsync(name, null);
            Assert.Equal(1, fetched.Version);
            Assert.Equal(weights.Why.ToArray(), fetched.Model.Why.ToArray());
        }

        var inputs = Models.Inputs(7, 10, 2);
        var expected = Models.Offline(weights, inputs);
        var prefix = Models.Key("spread");

        // Sequences on either silo use the cached copies: no further fetch.
        await Task.WhenAll(Enumerable.Range(0, 200).Select(async i =>
        {
            var sequence = _client.GetGrain<ISequenceGrain>($"{prefix}-{i}");
            await sequence.Start(new StartRequest(name));
            var result = await sequence.StepMany(1, [.. inputs.SelectMany(x => x)]);
            Assert.Equal(expected.SelectMany(y => y).ToArray(), result.Outputs);
        }));

        var loads = fixture.Caches.Select((c, i) => c.Loads - loadsBefore[i]).ToArray();
        Assert.Equal([1L, 1L], loads);
        Assert.Equal(2, await model.GetReadCount());

        var v2 = Models.Random(8, 2, 5, 1, name: name);
        await model.Publish(ModelFile.ToJson(v2));
        var late = _client.GetGrain<ISequenceGrain>($"{prefix}-late");
        await late.Start(new StartRequest(name));
        Assert.Equal(2, (await late.Snapshot()).ModelVersion);
        Assert.Equal(1, (await _client.GetGrain<ISequenceGrain>($"{prefix}-0").Snapshot()).ModelVersion);
    }

    [Fact]
    public async Task Step_WithoutStart_ThrowsNotStartedWhenNoDefaultModel()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("nodefault"));
        var e = await Assert.ThrowsAsync<SequenceNotStartedException>(() => sequence.Step(1, [1.0]));
        Assert.Equal(RnnErrorKind.NotStarted, e.Kind);
        Assert.Contains("no default model", e.Message);
        await Assert.ThrowsAsync<SequenceNotStartedException>(() => sequence.StepMany(1, [1.0]));
        await Assert.ThrowsAsync<SequenceNotStartedException>(() => sequence.Snapshot());
    }
}
