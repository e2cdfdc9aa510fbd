using RnnStreams.Core.Training;

namespace RnnStreams.Core.Tests.Training;

/// <summary>Backpropagation through time against central finite differences, for every cell, stacked layers and a non-zero state.</summary>
public class NetworkGradientTests
{
    public static TheoryData<CellType, int> Cells() => new()
    {
        { CellType.RnnTanh, 1 },
        { CellType.RnnTanh, 2 },
        { CellType.RnnRelu, 2 },
        { CellType.Gru, 1 },
        { CellType.Gru, 2 },
        { CellType.Lstm, 1 },
        { CellType.Lstm, 2 },
    };

    [Theory]
    [MemberData(nameof(Cells))]
    public void Gradient_MatchesCentralDifferences(CellType cell, int layers)
    {
        var random = new Random(17 + (int)cell + (10 * layers));
        var network = new Network(cell, inputSize: 2, hiddenSize: 3, outputSize: 2, layers, random);
        var inputs = Enumerable.Range(0, 6).Select(_ => new[] { Next(random) * 2, Next(random) * 2 }).ToArray();
        var targets = Enumerable.Range(0, 6).Select(_ => new[] { Next(random), Next(random) }).ToArray();
        var initial = Enumerable.Range(0, network.StateSize).Select(_ => Next(random) * 0.5).ToArray();

        var analytic = new double[network.Parameters.Length];
        network.Loss(inputs, targets, initial.ToArray(), analytic);

        const double epsilon = 1e-6;
        for (var i = 0; i < network.Parameters.Length; i++)
        {
            var kept = network.Parameters[i];
            network.Parameters[i] = kept + epsilon;
            var up = network.Loss(inputs, targets, initial.ToArray());
            network.Parameters[i] = kept - epsilon;
            var down = network.Loss(inputs, targets, initial.ToArray());
            network.Parameters[i] = kept;
            var numeric = (up - down) / (2 * epsilon);
            // Central differences are exact to ~ε² (1e-12) plus rounding ~1e-16/ε (1e-10) in absolute terms.
            Assert.True(Math.Abs(numeric - analytic[i]) <= 1e-8 + (1e-6 * Math.Abs(numeric)),
                $"{cell}×{layers} parameter {i}: backprop {analytic[i]:R}, finite differences {numeric:R}");
        }

        Assert.True(analytic.Any(g => Math.Abs(g) > 1e-3), "a gradient this small checks nothing");
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public void Forward_EqualsTheServedModel(CellType cell, int layers)
    {
        var random = new Random(5 + (int)cell + layers);
        var network = new Network(cell, 2, 4, 2, layers, random);
        var inputs = Enumerable.Range(0, 30).Select(_ => new[] { Next(random) * 3, Next(random) * 3 }).ToArray();
        var targets = Enumerable.Range(0, 30).Select(_ => new[] { Next(random), Next(random) }).ToArray();
        var state = new double[network.StateSize];
        var loss = network.Loss(inputs, targets, state);

        var model = network.ToModel("net");
        var served = new double[model.StateSize];
        var y = new double[2];
        double expected = 0;
        for (var t = 0; t < inputs.Length; t++)
        {
            model.Step(inputs[t], served, y);
            expected += ((y[0] - targets[t][0]) * (y[0] - targets[t][0])) + ((y[1] - targets[t][1]) * (y[1] - targets[t][1]));
        }

        Assert.Equal(expected / 60, loss, 1e-12);
        for (var i = 0; i < state.Length; i++)
        {
            Assert.Equal(served[i], state[i], 1e-12);
        }
    }

    private static double Next(Random random) => (random.NextDouble() * 2) - 1;
}
