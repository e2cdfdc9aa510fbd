namespace RnnStreams.Core.Tests;

/// <summary>
/// <see cref="RnnModel.StepBatch(ReadOnlySpan{double}, Span{double}, Span{double})"/> and <see cref="RnnModel.TryStepBatch(ReadOnlySpan{double}, Span{double}, Span{double}, Span{bool})"/> against one <see cref="RnnModel.Step(ReadOnlySpan{double}, Span{double}, Span{double})"/> (or
/// <see cref="RnnModel.TryAdvance(ReadOnlySpan{double}, Span{double}, Span{double})"/>) per sequence: every cell, 1 to 3 layers, odd sizes, batches that are not a
/// multiple of the 4-sequence tile or span several 64-sequence passes, given h_0/c_0, scaled models, bad inputs.
/// Tolerance 1e-12 relative, with an absolute floor of 1e-12 near zero.
/// </summary>
public class BatchKernelTests
{
    private const double Tolerance = 1e-12;

    [Theory]
    [InlineData(1, 1, 1, 1, 1, CellType.RnnTanh, OutputHead.Linear)]
    [InlineData(3, 5, 2, 1, 7, CellType.RnnTanh, OutputHead.Linear)]
    [InlineData(8, 64, 1, 1, 64, CellType.RnnTanh, OutputHead.Linear)]
    [InlineData(7, 13, 3, 2, 9, CellType.RnnRelu, OutputHead.Softmax)]
    [InlineData(5, 33, 4, 3, 6, CellType.RnnTanh, OutputHead.Sigmoid)]
    [InlineData(9, 67, 2, 2, 21, CellType.RnnTanh, OutputHead.Linear)]
    [InlineData(4, 9, 2, 3, 130, CellType.RnnRelu, OutputHead.Linear)]
    public void StepBatch_EqualsStepPerSequence(int d, int h, int o, int layers, int batch, CellType cell, OutputHead head)
    {
        var model = TestModels.Random(d + h + batch, d, h, o, layers, cell, head, scale: 1.5);
        AssertBatchEqualsStep(model, batch, seed: batch);
    }

    public static TheoryData<CellType, int, int> GatedShapes()
    {
        var data = new TheoryData<CellType, int, int>();
        foreach (var cell in new[] { CellType.Gru, CellType.Lstm })
        {
            foreach (var h in new[] { 1, 5, 63, 65 })
            {
                foreach (var batch in new[] { 1, 3, 4, 5, 17, 64 })
                {
                    data.Add(cell, h, batch);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(GatedShapes))]
    public void StepBatch_GatedTwoLayersGivenState_EqualsStepPerSequence(CellType cell, int h, int batch)
    {
        var model = RandomModel.Create("gated", 3, h, 2, layers: 2, cell, seed: (h * 100) + batch, scale: 1.5);
        AssertBatchEqualsStep(model, batch, seed: h + batch);
    }

    public static TheoryData<CellType, int, int, bool> ScaledShapes()
    {
        var data = new TheoryData<CellType, int, int, bool>();
        foreach (var cell in new[] { CellType.RnnTanh, CellType.RnnRelu, CellType.Gru, CellType.Lstm })
        {
            data.Add(cell, 5, 3, false);
            data.Add(cell, 63, 17, true);
            data.Add(cell, 65, 64, false);
            data.Add(cell, 1, 70, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ScaledShapes))]
    public void StepBatch_ScaledModel_EqualsStepPerSequence(CellType cell, int h, int batch, bool residual)
    {
        var model = TestModels.Scaled(RandomModel.Create("scaled", 3, h, 3, layers: 2, cell, seed: h + batch), seed: batch, residual);
        AssertBatchEqualsStep(model, batch, seed: h * batch);
    }

    [Fact]
    public void StepBatch_GivesTheSameBitsAsStep()
    {
        // Every sum gets the same fused multiply-adds in the same order, so the grain layer may batch without changing a bit.
        foreach (var cell in new[] { CellType.RnnTanh, CellType.Gru, CellType.Lstm })
        {
            var model = TestModels.Scaled(RandomModel.Create("bits", 8, 67, 8, layers: 2, cell, seed: 5), seed: 6, residual: true);
            var (states, expectedStates) = RandomStates(model, 23, seed: 7);
            var xs = Flat(TestModels.RandomInputs(8, 23, 8, scale: 3));
            var ys = new double[23 * 8];
            var expectedYs = new double[23 * 8];
            StepOneByOne(model, xs, expectedStates, expectedYs);
            model.StepBatch(xs, states, ys);
            Assert.Equal(Bits(expectedStates), Bits(states));
            Assert.Equal(Bits(expectedYs), Bits(ys));
        }
    }

    [Fact]
    public void StepBatch_ThrowsForWrongSizes()
    {
        var model = TestModels.Random(1, 3, 4, 2);
        Assert.Equal("xs", Assert.Throws<ArgumentException>(() => model.StepBatch(new double[7], new double[8], new double[4])).ParamName);
        Assert.Equal("states", Assert.Throws<ArgumentException>(() => model.StepBatch(new double[6], new double[7], new double[4])).ParamName);
        Assert.Equal("ys", Assert.Throws<ArgumentException>(() => model.StepBatch(new double[6], new double[8], new double[3])).ParamName);
    }

    [Fact]
    public void TryStepBatch_ThrowsForWrongSizes()
    {
        var model = TestModels.Random(1, 3, 4, 2);
        Assert.Equal("xs", Assert.Throws<ArgumentException>(() => model.TryStepBatch(new double[0], new double[0], new double[0], new bool[0])).ParamName);
        Assert.Equal("states", Assert.Throws<ArgumentException>(() => model.TryStepBatch(new double[6], new double[9], new double[4], new bool[2])).ParamName);
        Assert.Equal("ys", Assert.Throws<ArgumentException>(() => model.TryStepBatch(new double[6], new double[8], new double[5], new bool[2])).ParamName);
        Assert.Equal("failed", Assert.Throws<ArgumentException>(() => model.TryStepBatch(new double[6], new double[8], new double[4], new bool[3])).ParamName);
    }

    [Theory]
    [InlineData(CellType.RnnTanh, false)]
    [InlineData(CellType.RnnRelu, false)]
    [InlineData(CellType.Gru, false)]
    [InlineData(CellType.Lstm, false)]
    [InlineData(CellType.Lstm, true)]
    public void TryStepBatch_AllFinite_EqualsStepBatchAndNoneFail(CellType cell, bool scaled)
    {
        var network = RandomModel.Create("try", 3, 65, 3, layers: 2, cell, seed: 3);
        var model = scaled ? TestModels.Scaled(network, seed: 4, residual: false) : network;
        var (states, expectedStates) = RandomStates(model, 70, seed: 5);
        var xs = Flat(TestModels.RandomInputs(6, 70, 3, scale: 2));
        var expectedYs = new double[70 * 3];
        model.StepBatch(xs, expectedStates, expectedYs);
        var ys = new double[70 * 3];
        var failed = Enumerable.Repeat(true, 70).ToArray();

        Assert.Equal(0, model.TryStepBatch(xs, states, ys, failed));
        Assert.All(failed, Assert.False);
        Assert.Equal(Bits(expectedStates), Bits(states));
        Assert.Equal(Bits(expectedYs), Bits(ys));
    }

    [Theory]
    [InlineData(CellType.RnnTanh, 17)]
    [InlineData(CellType.RnnRelu, 17)]
    [InlineData(CellType.Gru, 17)]
    [InlineData(CellType.Lstm, 17)]
    [InlineData(CellType.Lstm, 70)]
    public void TryStepBatch_NonFiniteInputsInTheMiddle_FailOnlyTheirSequences(CellType cell, int batch)
    {
        // Bad inputs inside a 4-sequence tile (6, 11), at the first row (0) and, for 70, in the second pass (66).
        const int D = 4;
        var model = RandomModel.Create("bad", D, 63, 2, layers: 2, cell, seed: 9);
        var bad = batch > 64 ? new[] { 0, 6, 11, 66 } : new[] { 0, 6, 11 };
        var xs = Flat(TestModels.RandomInputs(10, batch, D, scale: 2));
        xs[(0 * D) + 3] = double.NaN;
        xs[(6 * D) + 1] = double.NaN;
        xs[11 * D] = double.PositiveInfinity;
        if (batch > 64)
        {
            xs[(66 * D) + 2] = double.NegativeInfinity;
        }

        AssertTryStepBatchEqualsTryAdvance(model, xs, batch, bad);
    }

    [Fact]
    public void TryStepBatch_ReluOverflowToInfinity_FailsOnlyThatSequence()
    {
        // Sequence 5's input is ±1e308 with the signs of W_xh's first row, so that row's sum overflows to +∞ and ReLU
        // keeps it; the other sequences of its tile and the batch go on.
        const int D = 4;
        var model = TestModels.Random(21, D, 9, 2, layers: 2, CellType.RnnRelu, scale: 10);
        var xs = Flat(TestModels.RandomInputs(22, 12, D));
        for (var j = 0; j < D; j++)
        {
            xs[(5 * D) + j] = Math.CopySign(1e308, model.Layers[0].Wxh[j]);
        }

        var state = new double[model.StateSize];
        model.Step(xs.AsSpan(5 * D, D), state, new double[2]);
        Assert.Equal(double.PositiveInfinity, state[0]);

        AssertTryStepBatchEqualsTryAdvance(model, xs, 12, [5]);
    }

    /// <summary>
    /// TryStepBatch against one TryAdvance per sequence: the same verdicts, the good rows the same bits, the failed rows'
    /// states bit for bit as they were and their outputs NaN.
    /// </summary>
    private static void AssertTryStepBatchEqualsTryAdvance(RnnModel model, double[] xs, int batch, int[] bad)
    {
        var d = model.InputSize;
        var s = model.StateSize;
        var o = model.OutputSize;
        var (states, expectedStates) = RandomStates(model, batch, seed: batch + 1);
        var before = Bits(states);
        var expectedYs = new double[batch * o];
        for (var b = 0; b < batch; b++)
        {
            var advanced = model.TryAdvance(xs.AsSpan(b * d, d), expectedStates.AsSpan(b * s, s), expectedYs.AsSpan(b * o, o));
            Assert.Equal(bad.Contains(b) ? 0 : -1, advanced);
        }

        var ys = new double[batch * o];
        var failed = new bool[batch];
        Assert.Equal(bad.Length, model.TryStepBatch(xs, states, ys, failed));
        var after = Bits(states);
        for (var b = 0; b < batch; b++)
        {
            Assert.Equal(bad.Contains(b), failed[b]);
            if (failed[b])
            {
                Assert.Equal(before.AsSpan(b * s, s).ToArray(), after.AsSpan(b * s, s).ToArray());
                Assert.All(ys.AsSpan(b * o, o).ToArray(), y => Assert.True(double.IsNaN(y)));
            }
            else
            {
                AssertClose(expectedStates.AsSpan(b * s, s), states.AsSpan(b * s, s), $"state {b}");
                AssertClose(expectedYs.AsSpan(b * o, o), ys.AsSpan(b * o, o), $"y {b}");
            }
        }
    }

    /// <summary>Five steps of a batch from random states: StepBatch against one Step per sequence.</summary>
    private static void AssertBatchEqualsStep(RnnModel model, int batch, int seed)
    {
        var (states, expectedStates) = RandomStates(model, batch, seed);
        var ys = new double[batch * model.OutputSize];
        var expectedYs = new double[batch * model.OutputSize];
        for (var t = 0; t < 5; t++)
        {
            var xs = Flat(TestModels.RandomInputs((seed * 10) + t, batch, model.InputSize, scale: 2));
            StepOneByOne(model, xs, expectedStates, expectedYs);
            model.StepBatch(xs, states, ys);
            AssertClose(expectedStates, states, $"states at t={t}");
            AssertClose(expectedYs, ys, $"ys at t={t}");
        }
    }

    private static void StepOneByOne(RnnModel model, double[] xs, double[] states, double[] ys)
    {
        var d = model.InputSize;
        var s = model.StateSize;
        var o = model.OutputSize;
        for (var b = 0; b < xs.Length / d; b++)
        {
            model.Step(xs.AsSpan(b * d, d), states.AsSpan(b * s, s), ys.AsSpan(b * o, o));
        }
    }

    /// <summary>Given h_0 (and c_0) for every sequence, twice: for the batch and for the one-by-one reference.</summary>
    private static (double[] States, double[] Copy) RandomStates(RnnModel model, int batch, int seed)
    {
        var random = new Random(seed);
        var states = Enumerable.Range(0, batch * model.StateSize).Select(_ => (random.NextDouble() * 2) - 1).ToArray();
        return (states, states.ToArray());
    }

    private static double[] Flat(double[][] rows) => [.. rows.SelectMany(r => r)];

    private static long[] Bits(double[] values) => [.. values.Select(BitConverter.DoubleToInt64Bits)];

    private static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            var tolerance = Math.Max(Tolerance, Tolerance * Math.Abs(expected[i]));
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }
}
