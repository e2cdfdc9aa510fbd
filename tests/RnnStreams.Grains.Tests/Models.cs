using RnnStreams.Core;

namespace RnnStreams.Grains.Tests;

/// <summary>Seeded random models and inputs, and the offline computation the grain path must equal.</summary>
internal static class Models
{
    public static RnnModel Random(int seed, int inputSize, int hiddenSize, int outputSize, int layers = 1,
        CellType cell = CellType.RnnTanh, OutputHead output = OutputHead.Linear, string? name = null)
    {
        var random = new Random(seed);
        var w = 1.5 / Math.Sqrt(hiddenSize);
        double[] Fill(int n) => Enumerable.Range(0, n).Select(_ => ((random.NextDouble() * 2) - 1) * w).ToArray();
        var list = new List<RnnLayer>();
        for (var k = 0; k < layers; k++)
        {
            var d = k == 0 ? inputSize : hiddenSize;
            var rows = cell.Gates() * hiddenSize;
            list.Add(cell.IsGated()
                ? new RnnLayer(cell, d, hiddenSize, Fill(rows * d), Fill(rows * hiddenSize), Fill(rows), Fill(rows))
                : new RnnLayer(d, hiddenSize, Fill(hiddenSize * d), Fill(hiddenSize * hiddenSize), Fill(hiddenSize)));
        }

        return new RnnModel(name ?? $"m{seed}", cell, output, inputSize, hiddenSize, outputSize, list, Fill(outputSize * hiddenSize), Fill(outputSize));
    }

    public static double[][] Inputs(int seed, int count, int size)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ => Enumerable.Range(0, size).Select(_ => (random.NextDouble() * 4) - 2).ToArray())
            .ToArray();
    }

    /// <summary>y_t for every input, computed offline with the same kernel.</summary>
    public static double[][] Offline(RnnModel model, IEnumerable<double[]> inputs, double[]? initialState = null)
    {
        var state = initialState?.ToArray() ?? new double[model.StateSize];
        return inputs.Select(x =>
        {
            var y = new double[model.OutputSize];
            model.Step(x, state, y);
            return y;
        }).ToArray();
    }

    private static int s_counter;

    /// <summary>A fresh key per test.</summary>
    public static string Key(string prefix) => $"{prefix}-{Interlocked.Increment(ref s_counter)}-{Guid.NewGuid():N}";
}
