namespace RnnStreams.Core;

/// <summary>Seeded random models, initialised as PyTorch does: every weight and bias uniform in ±1/√H.</summary>
public static class RandomModel
{
    /// <summary>Builds a model whose weights depend only on the arguments.</summary>
    public static RnnModel Create(string name, int inputSize, int hiddenSize, int outputSize, int layers = 1,
        CellType cell = CellType.RnnTanh, OutputHead output = OutputHead.Linear, int seed = 0, double scale = 1.0)
    {
        var random = new Random(seed);
        var bound = scale / Math.Sqrt(hiddenSize);
        double[] Fill(int n)
        {
            var values = new double[n];
            for (var i = 0; i < n; i++)
            {
                values[i] = ((random.NextDouble() * 2) - 1) * bound;
            }

            return values;
        }

        var list = new RnnLayer[layers];
        for (var k = 0; k < layers; k++)
        {
            var d = k == 0 ? inputSize : hiddenSize;
            var rows = cell.Gates() * hiddenSize;
            list[k] = cell.IsGated()
                ? new RnnLayer(cell, d, hiddenSize, Fill(rows * d), Fill(rows * hiddenSize), Fill(rows), Fill(rows), $"layers[{k}]")
                : new RnnLayer(d, hiddenSize, Fill(hiddenSize * d), Fill(hiddenSize * hiddenSize), Fill(hiddenSize), $"layers[{k}]");
        }

        return new RnnModel(name, cell, output, inputSize, hiddenSize, outputSize, list, Fill(outputSize * hiddenSize), Fill(outputSize));
    }
}
