using BenchmarkDotNet.Attributes;
using MathNet.Numerics;
using MathNet.Numerics.LinearAlgebra;
using RnnStreams.Core;
using RnnStreams.Core.Tests.Reference;

namespace RnnStreams.Benchmarks;

/// <summary>
/// One Elman tanh step (D = 8, one layer, linear head) three ways: the allocating MathNet reference (the baseline),
/// the span kernel <see cref="RnnModel.Step(ReadOnlySpan{double}, Span{double}, Span{double})"/>, and <see cref="RnnModel.TryAdvance(ReadOnlySpan{double}, Span{double}, Span{double})"/> over 64 steps per call.
/// Every row reports time per step, so the Ratio column compares like with like.
/// </summary>
[MemoryDiagnoser]
public class KernelBenchmarks
{
    private const int InputSize = 8;
    private const int StepsPerCall = 64;
    private const int Seed = 20261124;

    private RnnModel _model = null!;
    private MathNetReference _reference = null!;
    private Vector<double> _referenceX = null!;
    private double[] _x = null!;
    private double[] _xs = null!;
    private double[] _state = null!;
    private double[] _y = null!;
    private double[] _ys = null!;

    /// <summary>H. 63 leaves a remainder after every SIMD width; 256 is the largest size we serve per step.</summary>
    [Params(63, 64, 256)]
    public int HiddenSize { get; set; }

    /// <summary>O.</summary>
    [Params(1)]
    public int OutputSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // MathNet's managed provider splits matrix products of order >= 64 across threads: that costs more than
        // it saves on one step and would make the baseline jump between H = 63 and H = 64.
        Control.UseSingleThread();

        var random = new Random(Seed);
        var h = HiddenSize;
        var scale = 1.0 / Math.Sqrt(h);
        var layer = new RnnLayer(
            InputSize,
            h,
            Uniform(random, h * InputSize, 1.0 / Math.Sqrt(InputSize)),
            Uniform(random, h * h, scale),
            Uniform(random, h, scale));
        _model = new RnnModel(
            "bench",
            CellType.RnnTanh,
            OutputHead.Linear,
            InputSize,
            h,
            OutputSize,
            [layer],
            Uniform(random, OutputSize * h, scale),
            Uniform(random, OutputSize, scale));

        _x = Uniform(random, InputSize, 1.0);
        _xs = Uniform(random, StepsPerCall * InputSize, 1.0);
        _state = new double[_model.StateSize];
        _y = new double[OutputSize];
        _ys = new double[StepsPerCall * OutputSize];
        _reference = new MathNetReference(_model);
        _referenceX = Vector<double>.Build.DenseOfArray(_x);

        CheckAgreement();
    }

    [Benchmark(Baseline = true)]
    public Vector<double> MathNetStep() => _reference.Step(_referenceX);

    [Benchmark]
    public double SpanStep()
    {
        _model.Step(_x, _state, _y);
        return _y[0];
    }

    [Benchmark(OperationsPerInvoke = StepsPerCall)]
    public int TryAdvance64() => _model.TryAdvance(_xs, _state, _ys);

    private static double[] Uniform(Random random, int count, double scale)
    {
        var values = new double[count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = ((2.0 * random.NextDouble()) - 1.0) * scale;
        }

        return values;
    }

    /// <summary>
    /// The three paths must compute the same thing, or the timings compare nothing. Runs on fresh state so the
    /// benchmarks start from h = 0 like a new sequence.
    /// </summary>
    private void CheckAgreement()
    {
        var reference = new MathNetReference(_model);
        var state = new double[_model.StateSize];
        var y = new double[OutputSize];
        for (var t = 0; t < 3; t++)
        {
            var expected = reference.Step(_referenceX);
            _model.Step(_x, state, y);
            for (var o = 0; o < OutputSize; o++)
            {
                if (Math.Abs(expected[o] - y[o]) > 1e-9)
                {
                    throw new InvalidOperationException($"Step disagrees with MathNet at t={t}, o={o}: {y[o]} vs {expected[o]}");
                }
            }
        }

        if (_model.TryAdvance(_xs, state, _ys) != -1)
        {
            throw new InvalidOperationException("TryAdvance refused finite inputs");
        }
    }
}
