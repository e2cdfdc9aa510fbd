using RnnStreams.Core;

namespace RnnStreams.Core.Tests;

/// <summary>Models for tests: the worked example and seeded random ones.</summary>
internal static class TestModels
{
    /// <summary>The source documents' scalar example: W_xh=0.5, W_hh=0.3, b_h=0.1, W_hy=0.4, b_y=0.2.</summary>
    public static RnnModel WorkedExample() =>
        new("worked", CellType.RnnTanh, OutputHead.Linear, 1, 1, 1, [new RnnLayer(1, 1, [0.5], [0.3], [0.1])], [0.4], [0.2]);

    public static RnnModel Random(int seed, int inputSize, int hiddenSize, int outputSize, int layers = 1,
        CellType cell = CellType.RnnTanh, OutputHead output = OutputHead.Linear, double scale = 1.0)
    {
        var random = new Random(seed);
        var w = scale / Math.Sqrt(hiddenSize);
        double[] Fill(int n) => Enumerable.Range(0, n).Select(_ => ((random.NextDouble() * 2) - 1) * w).ToArray();
        var list = new List<RnnLayer>();
        for (var k = 0; k < layers; k++)
        {
            var d = k == 0 ? inputSize : hiddenSize;
            list.Add(new RnnLayer(d, hiddenSize, Fill(hiddenSize * d), Fill(hiddenSize * hiddenSize), Fill(hiddenSize)));
        }

        return new RnnModel($"random-{seed}", cell, output, inputSize, hiddenSize, outputSize, list, Fill(outputSize * hiddenSize), Fill(outputSize));
    }

    /// <summary>The same network with a seeded input and output scaling around it (O = D when residual).</summary>
    public static RnnModel Scaled(RnnModel model, int seed, bool residual)
    {
        var random = new Random(seed);
        double[] Fill(int n, double low, double high) => Enumerable.Range(0, n).Select(_ => low + (random.NextDouble() * (high - low))).ToArray();
        var scaling = new Scaling(Fill(model.InputSize, -3, 3), Fill(model.InputSize, 0.5, 4), Fill(model.OutputSize, -10, 10), Fill(model.OutputSize, 0.1, 20), residual);
        return new RnnModel(model.Name, model.Cell, model.Output, model.InputSize, model.HiddenSize, model.OutputSize, [.. model.Layers], model.Why, model.By, scaling);
    }

    public static double[][] RandomInputs(int seed, int count, int size, double scale = 1.0)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ => Enumerable.Range(0, size).Select(_ => ((random.NextDouble() * 2) - 1) * scale).ToArray())
            .ToArray();
    }
}
