using BenchmarkDotNet.Attributes;
using RnnStreams.Core;

namespace RnnStreams.Benchmarks;

/// <summary>
/// B sequences of one model advanced by one step: one <see cref="RnnModel.Step"/> per sequence (the baseline) against
/// one <see cref="RnnModel.StepBatch"/> for all of them (each weight loaded once per four sequences). Every row is
/// time per sequence-step (OperationsPerInvoke = B).
/// </summary>
[MemoryDiagnoser]
public class BatchKernelBenchmarks
{
    private const int InputSize = 8;
    private const int Batch = 64;

    private RnnModel _model = null!;
    private double[] _xs = null!;
    private double[] _states = null!;
    private double[] _ys = null!;

    /// <summary>H: 65 leaves a SIMD remainder; at 256 W_hh (512 KB) no longer fits the cache.</summary>
    [Params(64, 65, 256)]
    public int HiddenSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _model = RandomModel.Create("bench", InputSize, HiddenSize, 1, seed: 20261124);
        var random = new Random(7);
        _xs = Enumerable.Range(0, Batch * InputSize).Select(_ => (random.NextDouble() * 2) - 1).ToArray();
        _states = new double[Batch * _model.StateSize];
        _ys = new double[Batch];
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public void OneByOne()
    {
        var d = InputSize;
        var s = _model.StateSize;
        for (var b = 0; b < Batch; b++)
        {
            _model.Step(_xs.AsSpan(b * d, d), _states.AsSpan(b * s, s), _ys.AsSpan(b, 1));
        }
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void Batched() => _model.StepBatch(_xs, _states, _ys);
}
