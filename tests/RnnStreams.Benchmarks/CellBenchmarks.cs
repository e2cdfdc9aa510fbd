using BenchmarkDotNet.Attributes;
using RnnStreams.Core;

namespace RnnStreams.Benchmarks;

/// <summary>
/// One step of each cell with the span kernel (D = 8, one layer, linear head): what a GRU (3 gate blocks) and an LSTM
/// (4 blocks and a cell state) cost against the Elman step, the baseline. Allocates nothing in any of them.
/// </summary>
[MemoryDiagnoser]
public class CellBenchmarks
{
    private RnnModel _model = null!;
    private double[] _x = null!;
    private double[] _state = null!;
    private double[] _y = null!;

    /// <summary>H.</summary>
    [Params(64, 256)]
    public int HiddenSize { get; set; }

    /// <summary>The cell.</summary>
    [Params(CellType.RnnTanh, CellType.Gru, CellType.Lstm)]
    public CellType Cell { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = RandomModel.Create("cell", 8, HiddenSize, 1, 1, Cell, seed: 20261126);
        _x = [.. Enumerable.Range(0, 8).Select(i => Math.Sin(i))];
        _state = new double[_model.StateSize];
        _y = new double[1];
    }

    [Benchmark]
    public double Step()
    {
        _model.Step(_x, _state, _y);
        return _y[0];
    }
}
