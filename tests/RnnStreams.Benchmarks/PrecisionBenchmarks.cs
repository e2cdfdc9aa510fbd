using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using RnnStreams.Core;

namespace RnnStreams.Benchmarks;

/// <summary>
/// A float32 model against its float64 twin (the same weights, widened): 64 sequences advanced one step, one
/// <see cref="RnnModel.Step(ReadOnlySpan{double}, Span{double}, Span{double})"/> per sequence or one
/// <see cref="RnnModel.StepBatch(ReadOnlySpan{double}, Span{double}, Span{double})"/> of B = 64, for an LSTM with H = 256
/// (2.1 MB of float64 weights, 1.1 MB of float32) and an Elman tanh layer with H = 64; D = 8, one layer, O = 1. Every row
/// is time per sequence-step (OperationsPerInvoke = 64); the Ratio column is float32 ÷ float64 within each category.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class PrecisionBenchmarks
{
    private const int InputSize = 8;
    private const int Sequences = 64;

    private RnnModel _model64 = null!;
    private RnnModel _model32 = null!;
    private double[] _xs = null!;
    private double[] _states64 = null!;
    private float[] _states32 = null!;
    private double[] _ys = null!;

    /// <summary>The cell and H: an LSTM at 256 (the target), an Elman tanh layer at 64.</summary>
    [Params("lstm 256", "rnn_tanh 64")]
    public string Model { get; set; } = "lstm 256";

    [GlobalSetup]
    public void Setup()
    {
        var parts = Model.Split(' ');
        ModelNames.TryParseCell(parts[0], out var cell);
        var hidden = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        _model32 = RandomModel.Create("bench", InputSize, hidden, 1, 1, cell, seed: 20261201).WithPrecision(ModelPrecision.Float32);
        _model64 = _model32.WithPrecision(ModelPrecision.Float64); // the twin: the same floats, widened
        var random = new Random(7);
        _xs = [.. Enumerable.Range(0, Sequences * InputSize).Select(_ => (random.NextDouble() * 2) - 1)];
        _states64 = new double[Sequences * _model64.StateSize];
        _states32 = new float[Sequences * _model32.StateSize];
        _ys = new double[Sequences];
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Sequences)]
    [BenchmarkCategory("Step")]
    public void Step64()
    {
        var s = _model64.StateSize;
        for (var b = 0; b < Sequences; b++)
        {
            _model64.Step(_xs.AsSpan(b * InputSize, InputSize), _states64.AsSpan(b * s, s), _ys.AsSpan(b, 1));
        }
    }

    [Benchmark(OperationsPerInvoke = Sequences)]
    [BenchmarkCategory("Step")]
    public void Step32()
    {
        var s = _model32.StateSize;
        for (var b = 0; b < Sequences; b++)
        {
            _model32.Step(_xs.AsSpan(b * InputSize, InputSize), _states32.AsSpan(b * s, s), _ys.AsSpan(b, 1));
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Sequences)]
    [BenchmarkCategory("StepBatch")]
    public void StepBatch64() => _model64.StepBatch(_xs, _states64, _ys);

    [Benchmark(OperationsPerInvoke = Sequences)]
    [BenchmarkCategory("StepBatch")]
    public void StepBatch32() => _model32.StepBatch(_xs, _states32, _ys);
}
