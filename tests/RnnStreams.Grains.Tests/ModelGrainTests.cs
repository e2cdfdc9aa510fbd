using RnnStreams.Core;

namespace RnnStreams.Grains.Tests;

[Collection(ClusterCollection.Name)]
public class ModelGrainTests(ClusterFixture fixture)
{
    private readonly IClusterClient _client = fixture.Client;

    [Fact]
    public async Task Publish_MakesNewImmutableVersions()
    {
        var name = Models.Key("versions");
        var grain = _client.GetGrain<IModelGrain>(name);
        var v1 = Models.Random(1, 2, 3, 1, name: "whatever");
        var v2 = Models.Random(2, 2, 3, 1, name: name);

        var first = await grain.Publish(ModelFile.ToJson(v1));
        var second = await grain.Publish(ModelFile.ToJson(v2));

        Assert.Equal((name, 1, name, 2), (first.Model, first.Version, second.Model, second.Version));
        Assert.Equal([1, 2], (await grain.ListVersions()).Select(v => v.Version));
        Assert.Equal(2, await grain.GetLatestVersion());
        var got1 = await grain.Get(1);
        Assert.Equal(name, got1.Model.Name); // the grain key names the model
        Assert.Equal(v1.Layers[0].Wxh.ToArray(), got1.Model.Layers[0].Wxh.ToArray());
        Assert.Equal(v2.Why.ToArray(), (await grain.Get()).Model.Why.ToArray());
        Assert.Equal(v1.Why.ToArray(), ModelFile.Parse(await grain.GetJson(1)).Why.ToArray());
    }

    [Fact]
    public async Task Publish_ThrowsForInvalidModel_NamingTheField_AndStoresNothing()
    {
        var name = Models.Key("invalid");
        var grain = _client.GetGrain<IModelGrain>(name);
        var json = ModelFile.ToJson(Models.Random(3, 2, 3, 1)).Replace("\"outputSize\": 1", "\"outputSize\": 2");

        var e = await Assert.ThrowsAsync<InvalidModelException>(() => grain.Publish(json));

        Assert.Equal((RnnErrorKind.InvalidModel, "W_hy"), (e.Kind, e.Field));
        Assert.Contains("expected 2×3 (outputSize × hiddenSize)", e.Message);
        await Assert.ThrowsAsync<InvalidModelException>(() => grain.Publish("{"));
        Assert.Empty(await grain.ListVersions());
        await Assert.ThrowsAsync<UnknownModelException>(() => grain.Get());
    }

    [Fact]
    public async Task PublishIfNone_Concurrently_SeedsOneVersion()
    {
        var name = Models.Key("seed");
        var json = ModelFile.ToJson(Models.Random(9, 1, 2, 1, name: name));
        var infos = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => _client.GetGrain<IModelGrain>(name).PublishIfNone(json)));
        Assert.All(infos, i => Assert.Equal(1, i.Version));
        Assert.Single(await _client.GetGrain<IModelGrain>(name).ListVersions());
    }

    [Fact]
    public async Task Publish_Concurrently_LosesNoVersion()
    {
        var name = Models.Key("concurrent");
        var infos = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            _client.GetGrain<IModelGrain>(name).Publish(ModelFile.ToJson(Models.Random(i, 1, 2, 1, name: name)))));
        Assert.Equal(Enumerable.Range(1, 20), infos.Select(i => i.Version).Order());
        Assert.Equal(Enumerable.Range(1, 20), (await _client.GetGrain<IModelGrain>(name).ListVersions()).Select(v => v.Version));
        Assert.Contains(name, await _client.GetGrain<IModelCatalogGrain>(0).List());
    }

    [Fact]
    public async Task Get_ThrowsForUnknownVersion()
    {
        var e = await Assert.ThrowsAsync<UnknownModelException>(() => _client.GetGrain<IModelGrain>(ClusterFixture.DefaultModel).Get(7));
        Assert.Equal((ClusterFixture.DefaultModel, (int?)7), (e.Model, e.Version));
    }

    [Fact]
    public async Task ThousandSequences_FetchTheWeightsOnce()
    {
        var name = Models.Key("shared");
        var weights = Models.Random(4, 3, 16, 2, name: name);
        var model = _client.GetGrain<IModelGrain>(name);
        await model.Publish(ModelFile.ToJson(weights));
        var prefix = Models.Key("many");
        var x = Models.Inputs(5, 1, 3)[0];
        var expected = Models.Offline(weights, [x])[0];

        var results = await Task.WhenAll(Enumerable.Range(0, 1000).Select(async i =>
        {
            var sequence = _client.GetGrain<ISequenceGrain>($"{prefix}-{i}");
            await sequence.Start(new StartRequest(name));
            return await sequence.Step(1, x);
        }));

        Assert.All(results, r => Assert.Equal(expected, r.Y));
        Assert.Equal(1, await model.GetReadCount());
    }
}
