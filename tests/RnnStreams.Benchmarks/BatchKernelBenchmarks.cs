using BenchmarkDotNet.Attributes;
using RnnStreams.Core;

namespace RnnStreams.Benchmarks;

/// <summary>
/// 64 sequences of one model advanced by one step: one <see cref="RnnModel.Step(ReadOnlySpan{double}, Span{double}, Span{double})"/> per sequence (the baseline) against
/// <see cref="RnnModel.StepBatch(ReadOnlySpan{double}, Span{double}, Span{double})"/> on batches of B of them (each weight loaded once per four sequences), and
/// <see cref="RnnModel.TryStepBatch(ReadOnlySpan{double}, Span{double}, Span{double}, Span{bool})"/> (what the grain layer calls: the same plus a copy of the states and finiteness
/// checks), for each cell. Every row is time per sequence-step (OperationsPerInvoke = 64). D = 8, one layer, O = 1.
/// </summary>
[MemoryDiagnoser]
public class BatchKernelBenchmarks
{
    private const int InputSize = 8;
    private const int Sequences = 64;

    private RnnModel _model = null!;
    private double[] _xs = null!;
    private double[] _states = null!;
    private double[] _ys = null!;
    private bool[] _failed = null!;

    /// <summary>The cell.</summary>
    [Params(CellType.RnnTanh, CellType.Gru, CellType.Lstm)]
    public CellType Cell { get; set; }

    /// <summary>H: 65 leaves a SIMD remainder; at 256 an LSTM's W_hh (2 MB) no longer fits the L2 cache.</summary>
    [Params(64, 65, 256)]
    public int HiddenSize { get; set; }

    /// <summary>B: 64 sequences in one call (one pass over the weights), or in four calls of 16.</summary>
    [Params(16, 64)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = RandomModel.Create("bench", InputSize, HiddenSize, 1, 1, Cell, seed: 20261124);
        var random = new Random(7);
        _xs = Enumerable.Range(0, Sequences * InputSize).Select(_ => (random.NextDouble() * 2) - 1).ToArray();
        _states = new double[Sequences * _model.StateSize];
        _ys = new double[Sequences];
        _failed = new bool[Sequences];
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Sequences)]
    public void OneByOne()
    {
        var d = InputSize;
        var s = _model.StateSize;
        for (var b = 0; b < Sequences; b++)
        {
            _model.Step(_xs.AsSpan(b * d, d), _states.AsSpan(b * s, s), _ys.AsSpan(b, 1));
        }
    }

    [Benchmark(OperationsPerInvoke = Sequences)]
    public void Batched()
    {
        var d = InputSize;
        var s = _model.StateSize;
        for (var b = 0; b < Sequences; b += Batch)
        {
            _model.StepBatch(_xs.AsSpan(b * d, Batch * d), _states.AsSpan(b * s, Batch * s), _ys.AsSpan(b, Batch));
        }
    }

    [Benchmark(OperationsPerInvoke = Sequences)]
    public int TryBatched()
    {
        var d = InputSize;
        var s = _model.StateSize;
        var failures = 0;
        for (var b = 0; b < Sequences; b += Batch)
        {
            failures += _model.TryStepBatch(_xs.AsSpan(b * d, Batch * d), _states.AsSpan(b * s, Batch * s), _ys.AsSpan(b, Batch), _failed.AsSpan(b, Batch));
        }

        return failures;
    }
}
