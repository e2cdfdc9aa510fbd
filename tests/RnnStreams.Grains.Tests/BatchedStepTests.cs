using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using RnnStreams.Core;

namespace RnnStreams.Grains.Tests;

/// <summary>A silo whose <see cref="StepBatcher"/> takes every model (no size threshold), with the default window.</summary>
public sealed class BatchedStepFixture : IAsyncLifetime
{
    public TestCluster Cluster { get; private set; } = null!;

    public StepBatcher Batcher => ((InProcessSiloHandle)Cluster.Primary!).SiloHost.Services.GetRequiredService<StepBatcher>();

    public async Task InitializeAsync() => Cluster = await TestClusters.DeployAsync<SiloConfigurator>(1);

    public async Task DisposeAsync() => await TestClusters.StopAsync(Cluster);

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder
            .AddRnnStreams(configure: o =>
            {
                o.DefaultModel = null;
                o.BatchMinWeightBytes = 0;
            })
            .AddRnnStreamsInMemory();
    }
}

/// <summary>
/// Elements of many sequences stepped concurrently go through the silo's batcher: every answer equals the kernel
/// stepping each sequence alone, and a bad element in the middle of a round refuses only its own sequence.
/// </summary>
public class BatchedStepTests(BatchedStepFixture fixture) : IClassFixture<BatchedStepFixture>
{
    private const int Sequences = 48;
    private const int Elements = 12;

    private readonly IClusterClient _client = fixture.Cluster.Client;

    private async Task<RnnModel> PublishAsync(RnnModel model)
    {
        await _client.GetGrain<IModelGrain>(model.Name).Publish(ModelFile.ToJson(model));
        return model;
    }

    private async Task<ISequenceGrain[]> StartAsync(RnnModel model, int count)
    {
        var sequences = Enumerable.Range(0, count).Select(_ => _client.GetGrain<ISequenceGrain>(Models.Key("batched"))).ToArray();
        await Task.WhenAll(sequences.Select(s => s.Start(new StartRequest(model.Name))));
        return sequences;
    }

    private static void AssertClose(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12 * Math.Max(1, Math.Abs(expected[i])), $"[{i}] expected {expected[i]:R}, got {actual[i]:R}");
        }
    }

    /// <summary>y_t for every input from zeros, offline with the model's own kernel (float state for a float32 model).</summary>
    private static double[][] Offline(RnnModel model, double[][] inputs)
    {
        if (model.Precision == ModelPrecision.Float64)
        {
            return Models.Offline(model, inputs);
        }

        var state = new float[model.StateSize];
        return [.. inputs.Select(x =>
        {
            var y = new double[model.OutputSize];
            model.Step(x, state, y);
            return y;
        })];
    }

    [Theory]
    [InlineData(CellType.RnnTanh, 1, false)]
    [InlineData(CellType.Gru, 1, false)]
    [InlineData(CellType.Lstm, 2, false)]
    [InlineData(CellType.Lstm, 2, true)]
    [InlineData(CellType.Gru, 1, true)]
    public async Task ConcurrentSteps_EqualTheKernel_AndAreBatched(CellType cell, int layers, bool float32)
    {
        var random = Models.Random(300 + (int)cell, 3, 33, 2, layers, cell, name: Models.Key($"batch-{cell}"));
        var model = await PublishAsync(float32 ? random.WithPrecision(ModelPrecision.Float32) : random);
        var sequences = await StartAsync(model, Sequences);
        var inputs = sequences.Select((_, s) => Models.Inputs(400 + s, Elements, 3)).ToArray();
        var before = fixture.Batcher.RoundSizes();

        // Every sequence steps its elements one call at a time, all sequences at once; half of them send their last
        // four elements as one StepMany, which takes part in four consecutive rounds.
        var answers = await Task.WhenAll(sequences.Select(async (sequence, s) =>
        {
            var ys = new List<double[]>();
            var last = s % 2 == 0 ? Elements : Elements - 4;
            for (var n = 1; n <= last; n++)
            {
                ys.Add((await sequence.Step(n, inputs[s][n - 1])).Y);
            }

            if (last < Elements)
            {
                var batch = await sequence.StepMany(last + 1, [.. inputs[s].Skip(last).SelectMany(x => x)]);
                ys.AddRange(batch.Outputs.Chunk(model.OutputSize));
            }

            return ys;
        }));

        for (var s = 0; s < Sequences; s++)
        {
            var expected = Offline(model, inputs[s]);
            for (var t = 0; t < Elements; t++)
            {
                AssertClose(expected[t], answers[s][t]);
            }

            var snapshot = await sequences[s].Snapshot();
            Assert.Equal(Elements, snapshot.LastN);
        }

        var after = fixture.Batcher.RoundSizes();
        var rounds = after.Select((c, i) => c - before[i]).ToArray();
        Assert.True(rounds.Sum() > 0, "no element went through the batcher");
        Assert.True(rounds.Skip(1).Sum() > 0, $"every round held one sequence: {string.Join(", ", rounds)}");
    }

    [Fact]
    public async Task BadElementsInTheMiddleOfARound_RefuseOnlyTheirSequence()
    {
        // ReLU with a huge input weight: an input of 1e300 overflows h to infinity — a refusal only the kernel can find,
        // inside the batched round.
        var name = Models.Key("batch-relu");
        var relu = await PublishAsync(new RnnModel(name, CellType.RnnRelu, OutputHead.Linear, 1, 1, 1, [new RnnLayer(1, 1, [1e10], [0.5], [0])], [1], [0]));
        var sequences = await StartAsync(relu, Sequences);
        await Task.WhenAll(sequences.Select(s => s.Step(1, [1])));
        var before = await Task.WhenAll(sequences.Select(s => s.Snapshot()));

        // Element 2 for everyone at once; some overflow, some are wrong-sized, non-finite, a gap or a duplicate.
        static double[] Input(int s) => (s % 8) switch
        {
            1 => [1e300],
            2 => [1, 2],
            3 => [double.NaN],
            _ => [s],
        };

        static long N(int s) => (s % 8) switch
        {
            4 => 3, // a gap
            5 => 1, // a duplicate of element 1: answered with its stored y, nothing applied
            _ => 2,
        };

        var results = await Task.WhenAll(sequences.Select(async (sequence, s) =>
        {
            try
            {
                return (Result: await sequence.Step(N(s), Input(s)), Error: (Exception?)null);
            }
            catch (Exception e)
            {
                return (Result: (StepResult?)null, Error: e);
            }
        }));

        for (var s = 0; s < Sequences; s++)
        {
            var (result, error) = results[s];
            var snapshot = await sequences[s].Snapshot();
            switch (s % 8)
            {
                case 1:
                    Assert.Equal(RnnErrorKind.NonFiniteResult, Assert.IsType<NonFiniteResultException>(error).Kind);
                    break;
                case 2:
                    Assert.Equal(RnnErrorKind.WrongSize, Assert.IsType<InvalidInputException>(error).Kind);
                    break;
                case 3:
                    Assert.Equal(RnnErrorKind.NonFinite, Assert.IsType<InvalidInputException>(error).Kind);
                    break;
                case 4:
                    Assert.IsType<ElementGapException>(error);
                    break;
                case 5:
                    Assert.True(result!.Duplicate);
                    Assert.Equal(new[] { 1e10 }, result.Y);
                    break;
                default:
                    Assert.Null(error);
                    Assert.Equal(new[] { (1e10 * s) + (0.5 * 1e10) }, result!.Y); // relu(1e10·x + 0.5·h_1), h_1 = 1e10
                    Assert.Equal(2, snapshot.LastN);
                    continue;
            }

            // Refused or repeated: exactly as before, and the sequence goes on.
            Assert.Equal(before[s].Hidden, snapshot.Hidden);
            Assert.Equal((before[s].LastN, before[s].UpdatedAt), (snapshot.LastN, snapshot.UpdatedAt));
            Assert.Equal(new[] { 1e10 * 1.5 }, (await sequences[s].Step(2, [1])).Y);
        }
    }

    [Fact]
    public async Task AWindowOfZero_TurnsTheBatcherOff()
    {
        var options = new RnnStreamsOptions { BatchWindow = TimeSpan.Zero, BatchMinWeightBytes = 0 };
        var batcher = new StepBatcher(Microsoft.Extensions.Options.Options.Create(options));
        Assert.False(batcher.Batches(Models.Random(1, 3, 300, 1, cell: CellType.Lstm)));
        var on = new StepBatcher(Microsoft.Extensions.Options.Options.Create(new RnnStreamsOptions()));
        Assert.False(on.Batches(Models.Random(1, 8, 64, 1))); // 37 KB of weights: steps alone
        Assert.True(on.Batches(Models.Random(1, 8, 256, 1, cell: CellType.Lstm))); // 2.1 MB
    }
}
