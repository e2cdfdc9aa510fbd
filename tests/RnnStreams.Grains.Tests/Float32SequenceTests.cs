using RnnStreams.Core;

namespace RnnStreams.Grains.Tests;

/// <summary>
/// Sequences of float32 models: state kept in floats, every answer the float32 kernel's bit for bit, on two silos (so the
/// model crosses the wire to each silo's cache), and a change of dtype refused as an upgrade.
/// </summary>
[Collection(TwoSiloCollection.Name)]
public class Float32SequenceTests(TwoSiloFixture fixture)
{
    private readonly IClusterClient _client = fixture.Client;

    /// <summary>The float32 twin of a random model, and its file (which says <c>"dtype": "float32"</c>).</summary>
    private static (RnnModel Model, string Json) Float32(RnnModel model)
    {
        var twin = model.WithPrecision(ModelPrecision.Float32);
        var json = ModelFile.ToJson(twin);
        Assert.Contains("\"dtype\": \"float32\"", json);
        return (twin, json);
    }

    [Theory]
    [InlineData(CellType.RnnTanh)]
    [InlineData(CellType.Gru)]
    [InlineData(CellType.Lstm)]
    public async Task Float32Sequences_EqualTheFloat32Kernel_OnEverySilo(CellType cell)
    {
        var name = Models.Key($"f32-{cell}");
        var (model, json) = Float32(Models.Random(70 + (int)cell, 3, 9, 2, layers: 2, cell: cell, name: name));
        await _client.GetGrain<IModelGrain>(name).Publish(json);
        foreach (var cache in fixture.Caches)
        {
            Assert.Equal(ModelPrecision.Float32, (await cache.GetAsync(name, null)).Model.Precision); // kept across the wire
        }

        var inputs = Models.Inputs(71, 12, 3);
        var h0 = Enumerable.Range(0, 2).Select(k => Enumerable.Range(0, 9).Select(i => 0.1 + (0.01 * i) - (0.3 * k)).ToArray()).ToArray();
        var c0 = cell == CellType.Lstm ? h0.Select(r => r.Select(v => -v).ToArray()).ToArray() : null;

        // Offline: the float32 kernel from h_0 and c_0 rounded once to floats.
        var state = new float[model.StateSize];
        for (var k = 0; k < 2; k++)
        {
            for (var i = 0; i < 9; i++)
            {
                state[(k * 9) + i] = (float)h0[k][i];
                if (c0 is not null)
                {
                    state[model.CellStateOffset + (k * 9) + i] = (float)c0[k][i];
                }
            }
        }

        var expected = inputs.Select(x =>
        {
            var y = new double[model.OutputSize];
            model.Step(x, state, y);
            return y;
        }).ToArray();

        await Task.WhenAll(Enumerable.Range(0, 16).Select(async s =>
        {
            var sequence = _client.GetGrain<ISequenceGrain>($"{name}-{s}");
            await sequence.Start(new StartRequest(name, InitialState: h0, InitialCell: c0));
            for (var n = 1; n <= 8; n++)
            {
                Assert.Equal(expected[n - 1], (await sequence.Step(n, inputs[n - 1])).Y);
            }

            var rest = await sequence.StepMany(9, [.. inputs.Skip(8).SelectMany(x => x)]);
            Assert.Equal(expected.Skip(8).SelectMany(y => y).ToArray(), rest.Outputs);
            Assert.True((await sequence.Step(12, inputs[11])).Duplicate);

            // The snapshot is the float state widened: exactly what the kernel holds.
            var snapshot = await sequence.Snapshot();
            Assert.Equal(state.Take(18).Select(v => (double)v).ToArray(), snapshot.Hidden.SelectMany(h => h).ToArray());
            if (c0 is not null)
            {
                Assert.Equal(state.Skip(model.CellStateOffset).Take(18).Select(v => (double)v).ToArray(), snapshot.Cell!.SelectMany(c => c).ToArray());
            }
        }));
    }

    [Fact]
    public async Task AChangeOfDtype_IsRefusedAsAnUpgrade_AndTheSequenceGoesOn()
    {
        var name = Models.Key("f32-upgrade");
        var float64 = Models.Random(80, 2, 4, 1, name: name);
        await _client.GetGrain<IModelGrain>(name).Publish(ModelFile.ToJson(float64));
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("f32-upgrade-seq"));
        await sequence.Start(new StartRequest(name));
        await sequence.Step(1, [0.5, -0.5]);
        var (_, json) = Float32(Models.Random(81, 2, 4, 1, name: name));
        await _client.GetGrain<IModelGrain>(name).Publish(json);

        var e = await Assert.ThrowsAsync<IncompatibleModelException>(() => sequence.Upgrade());
        Assert.Contains("dtype float64 → float32", e.Message);
        var snapshot = await sequence.Snapshot();
        Assert.Equal((1, 1L), (snapshot.ModelVersion, snapshot.LastN));
        var y = new double[1];
        var h = new double[4];
        float64.Step([0.5, -0.5], h, y);
        float64.Step([1, 1], h, y);
        Assert.Equal(y, (await sequence.Step(2, [1, 1])).Y);
    }
}
