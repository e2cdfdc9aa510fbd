namespace RnnStreams.Core.Tests;

/// <summary>
/// Float32 models: <see cref="RnnModel.StepBatch(ReadOnlySpan{double}, Span{float}, Span{double})"/> and
/// <see cref="RnnModel.TryStepBatch(ReadOnlySpan{double}, Span{float}, Span{double}, Span{bool})"/> give the same bits as
/// one float32 <see cref="RnnModel.Step(ReadOnlySpan{double}, Span{float}, Span{double})"/> (or
/// <see cref="RnnModel.TryAdvance(ReadOnlySpan{double}, Span{float}, Span{double})"/>) per sequence (the same fused
/// multiply-adds in the same order, as for float64); a float32 model against its float64 twin over 1,000 steps; the
/// precision of each overload enforced; the same size checks; nothing allocated.
/// </summary>
public class Float32KernelTests
{
    /// <summary>
    /// The largest error of a float32 model against its float64 twin (the same float weights, computed in double) found
    /// over 1,000 steps (D = 8, H = 64, 2 layers, O = 3, inputs in ±2), measured by <see cref="Error"/> over every y_t and
    /// the final state. Measured here: rnn_tanh 1.4e-5, rnn_relu 4.9e-6, gru 5.0e-6, lstm 4.1e-6 (the largest absolute
    /// difference 3.6e-7); the bound leaves a factor of 3.5 for other CPUs' gate functions.
    /// </summary>
    public const double TwinBound = 5e-5;

    /// <summary>
    /// Where <see cref="Error"/> turns from relative to absolute: a float sum of terms of size about 1 is off by a few
    /// 1e-8 wherever it lands, so a value near 1e-3 can be 3e-5 off relatively in any float32 code, PyTorch's included.
    /// </summary>
    public const double Floor = 1e-2;

    public static TheoryData<CellType, int, int, int> GatedShapes()
    {
        var data = new TheoryData<CellType, int, int, int>();
        foreach (var cell in new[] { CellType.RnnTanh, CellType.RnnRelu, CellType.Gru, CellType.Lstm })
        {
            foreach (var (h, batch) in new[] { (1, 3), (5, 17), (63, 64), (65, 5), (97, 70) })
            {
                data.Add(cell, h, batch, 2);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(GatedShapes))]
    public void StepBatch_GivenStates_SameBitsAsStepPerSequence(CellType cell, int h, int batch, int layers)
    {
        var model = Float32(RandomModel.Create("f32", 3, h, 2, layers, cell, seed: (h * 100) + batch, scale: 1.5));
        AssertBatchSameBitsAsStep(model, batch, seed: h + batch);
    }

    [Theory]
    [InlineData(CellType.RnnTanh, 7, 9, false)]
    [InlineData(CellType.RnnRelu, 33, 4, true)]
    [InlineData(CellType.Gru, 63, 17, true)]
    [InlineData(CellType.Lstm, 65, 64, false)]
    [InlineData(CellType.Lstm, 1, 70, true)]
    public void StepBatch_ScaledModel_SameBitsAsStepPerSequence(CellType cell, int h, int batch, bool residual)
    {
        var model = Float32(TestModels.Scaled(RandomModel.Create("scaled", 3, h, 3, layers: 2, cell, seed: h + batch), seed: batch, residual));
        AssertBatchSameBitsAsStep(model, batch, seed: h * batch);
    }

    [Theory]
    [InlineData(OutputHead.Softmax)]
    [InlineData(OutputHead.Sigmoid)]
    public void StepBatch_SoftmaxAndSigmoidHeads_SameBitsAsStepPerSequence(OutputHead head)
    {
        var model = Float32(TestModels.Random(3, 5, 31, 4, layers: 3, CellType.RnnTanh, head, scale: 1.5));
        AssertBatchSameBitsAsStep(model, 9, seed: 4);
    }

    [Theory]
    [InlineData(CellType.RnnTanh)]
    [InlineData(CellType.Gru)]
    [InlineData(CellType.Lstm)]
    public void TryAdvance_AllAtOnce_SameBitsAsStepByStep(CellType cell)
    {
        var model = Float32(RandomModel.Create("adv", 4, 37, 2, layers: 2, cell, seed: 8));
        var (stepped, advanced) = RandomStates(model, 1, seed: 9);
        var xs = Flat(TestModels.RandomInputs(10, 40, 4, scale: 2));
        var expected = new double[40 * 2];
        for (var t = 0; t < 40; t++)
        {
            model.Step(xs.AsSpan(t * 4, 4), stepped, expected.AsSpan(t * 2, 2));
        }

        var ys = new double[40 * 2];
        Assert.Equal(-1, model.TryAdvance(xs, advanced, ys));
        Assert.Equal(Bits(stepped), Bits(advanced));
        Assert.Equal(expected, ys);
    }

    public static TheoryData<CellType, int> BadInputBatches() =>
        new() { { CellType.RnnTanh, 17 }, { CellType.RnnRelu, 17 }, { CellType.Gru, 17 }, { CellType.Lstm, 70 } };

    [Theory]
    [MemberData(nameof(BadInputBatches))]
    public void TryStepBatch_BadInputsInTheMiddle_FailOnlyTheirSequences(CellType cell, int batch)
    {
        // NaN and ±∞ at 0, 6, 11, and (70) in the second pass; at 9 a double that is finite but beyond float's range.
        const int D = 4;
        var model = Float32(RandomModel.Create("bad", D, 63, 2, layers: 2, cell, seed: 9));
        var xs = Flat(TestModels.RandomInputs(10, batch, D, scale: 2));
        var bad = new (int Sequence, int Column, double Value)[]
        {
            (0, 3, double.NaN), (6, 1, double.NaN), (9, 2, -1e39), (11, 0, double.PositiveInfinity), (66, 2, double.NegativeInfinity),
        }.Where(b => b.Sequence < batch).ToArray();
        foreach (var (sequence, column, value) in bad)
        {
            xs[(sequence * D) + column] = value;
        }

        AssertTryStepBatchEqualsTryAdvance(model, xs, batch, [.. bad.Select(b => b.Sequence)]);
    }

    [Fact]
    public void TryStepBatch_FloatOverflowInTheSums_FailsOnlyThatSequence()
    {
        // Sequence 5's input is ±1e38 with the signs of W_xh's first row: finite as a float, but the ReLU layer's sum
        // overflows float (not double) and ReLU keeps the +∞.
        const int D = 4;
        var model = Float32(TestModels.Random(21, D, 9, 2, layers: 2, CellType.RnnRelu, scale: 10));
        var overflowing = model.Layers[0].Wxh[..D].ToArray().Select(w => Math.CopySign(1e38, w)).ToArray();
        var alone = new float[model.StateSize];
        model.Step(overflowing, alone, new double[2]);
        Assert.Equal(float.PositiveInfinity, alone[0]);

        var xs = Flat(TestModels.RandomInputs(22, 12, D));
        overflowing.CopyTo(xs, 5 * D);
        AssertTryStepBatchEqualsTryAdvance(model, xs, 12, [5]);
    }

    [Theory]
    [InlineData(CellType.RnnTanh)]
    [InlineData(CellType.RnnRelu)]
    [InlineData(CellType.Gru)]
    [InlineData(CellType.Lstm)]
    public void Twin_Float32AgainstFloat64_Over1000Steps_StaysWithinTheBound(CellType cell)
    {
        // The float64 twin holds the very same weights (the floats, widened), so the difference is float32 arithmetic alone.
        var model = Float32(RandomModel.Create("twin", 8, 64, 3, layers: 2, cell, seed: 31));
        var twin = model.WithPrecision(ModelPrecision.Float64);
        Assert.Equal(model.Layers[1].Whh.ToArray(), twin.Layers[1].Whh.ToArray());
        var state = new float[model.StateSize];
        var twinState = new double[twin.StateSize];
        var y = new double[3];
        var twinY = new double[3];
        var worst = 0.0;
        foreach (var x in TestModels.RandomInputs(32, 1000, 8, scale: 2))
        {
            model.Step(x, state, y);
            twin.Step(x, twinState, twinY);
            worst = Math.Max(worst, Error(twinY, y));
        }

        worst = Math.Max(worst, Error(twinState, Array.ConvertAll(state, v => (double)v)));
        Assert.True(worst < TwinBound, $"{cell}: float32 against float64 {worst:E2}, bound {TwinBound:E0}");
        Assert.True(worst > 0, "a float32 model computes in float: some difference is expected");
    }

    [Fact]
    public void EveryOverload_OfTheOtherPrecision_ThrowsSayingWhichPrecisionTheModelIs()
    {
        var f64 = RandomModel.Create("m64", 2, 3, 1);
        var f32 = f64.WithPrecision(ModelPrecision.Float32);
        Assert.Equal((ModelPrecision.Float64, ModelPrecision.Float32), (f64.Precision, f32.Precision));
        var (x, y) = (new double[2], new double[1]);
        var wrongFor64 = new Action[]
        {
            () => f64.Step(x, new float[3], y), () => f64.TryAdvance(x, new float[3], y),
            () => f64.StepBatch(x, new float[3], y), () => f64.TryStepBatch(x, new float[3], y, new bool[1]),
        };
        var wrongFor32 = new Action[]
        {
            () => f32.Step(x, new double[3], y), () => f32.TryAdvance(x, new double[3], y),
            () => f32.StepBatch(x, new double[3], y), () => f32.TryStepBatch(x, new double[3], y, new bool[1]),
        };
        Assert.All(wrongFor64, call => Assert.StartsWith("m64 is a float64 model: its state is double", Assert.Throws<InvalidOperationException>(call).Message));
        Assert.All(wrongFor32, call => Assert.StartsWith("m64 is a float32 model: its state is float", Assert.Throws<InvalidOperationException>(call).Message));
    }

    [Fact]
    public void WrongSizes_ThrowTheSameAsTheFloat64Overloads()
    {
        var f64 = TestModels.Random(1, 3, 4, 2);
        var f32 = Float32(f64);
        void Same(Action float64, Action float32)
        {
            var expected = Assert.Throws<ArgumentException>(float64);
            var actual = Assert.Throws<ArgumentException>(float32);
            Assert.Equal((expected.ParamName, expected.Message), (actual.ParamName, actual.Message));
        }

        Same(() => f64.Step(new double[2], new double[4], new double[2]), () => f32.Step(new double[2], new float[4], new double[2]));
        Same(() => f64.Step(new double[3], new double[5], new double[2]), () => f32.Step(new double[3], new float[5], new double[2]));
        Same(() => f64.TryAdvance(new double[7], new double[4], new double[4]), () => f32.TryAdvance(new double[7], new float[4], new double[4]));
        Same(() => f64.TryAdvance(new double[6], new double[4], new double[2]), () => f32.TryAdvance(new double[6], new float[4], new double[2]));
        Same(() => f64.StepBatch(new double[6], new double[7], new double[4]), () => f32.StepBatch(new double[6], new float[7], new double[4]));
        Same(() => f64.StepBatch(new double[6], new double[8], new double[3]), () => f32.StepBatch(new double[6], new float[8], new double[3]));
        Same(() => f64.TryStepBatch(new double[0], new double[0], new double[0], new bool[0]), () => f32.TryStepBatch(new double[0], new float[0], new double[0], new bool[0]));
        Same(() => f64.TryStepBatch(new double[6], new double[8], new double[4], new bool[3]), () => f32.TryStepBatch(new double[6], new float[8], new double[4], new bool[3]));
    }

    [Fact]
    public void EveryEntryPoint_AfterWarmUp_AllocatesNothing()
    {
        foreach (var (cell, scaled, batch) in new[] { (CellType.RnnTanh, false, 37), (CellType.RnnRelu, true, 5), (CellType.Gru, false, 70), (CellType.Lstm, true, 70) })
        {
            var network = RandomModel.Create("alloc", 3, 33, 3, layers: 2, cell, seed: 14);
            var model = Float32(scaled ? TestModels.Scaled(network, seed: 15, residual: true) : network);
            var xs = Flat(TestModels.RandomInputs(16, batch, 3));
            xs[1] = double.NaN;
            var states = new float[batch * model.StateSize];
            var ys = new double[batch * 3];
            var failed = new bool[batch];
            var state = new float[model.StateSize];
            var steps = Flat(TestModels.RandomInputs(17, 16, 3));
            var stepYs = new double[16 * 3];
            void Run(int times)
            {
                for (var i = 0; i < times; i++)
                {
                    model.Step(steps.AsSpan(0, 3), state, stepYs.AsSpan(0, 3));
                    model.TryAdvance(steps, state, stepYs);
                    model.StepBatch(xs, states, ys);
                    model.TryStepBatch(xs, states, ys, failed);
                }
            }

            Run(1);
            var before = GC.GetAllocatedBytesForCurrentThread();
            Run(200);
            Assert.True(GC.GetAllocatedBytesForCurrentThread() == before, $"{cell}: {GC.GetAllocatedBytesForCurrentThread() - before} bytes");
        }
    }

    [Fact]
    public void WithPrecision_RoundsEveryWeightToFloatOnce_AndBackExactly()
    {
        var f64 = TestModels.Scaled(RandomModel.Create("p", 3, 5, 3, layers: 2, CellType.Gru, seed: 2), seed: 3, residual: false);
        var f32 = f64.WithPrecision(ModelPrecision.Float32);
        Assert.Same(f32, f32.WithPrecision(ModelPrecision.Float32));
        Assert.Equal(f64.Layers[1].Bhh.ToArray().Select(v => (double)(float)v), f32.Layers[1].Bhh.ToArray());
        Assert.Equal(f64.Why.ToArray().Select(v => (double)(float)v), f32.Why.ToArray());
        Assert.Same(f64.Scaling, f32.Scaling);
        var back = f32.WithPrecision(ModelPrecision.Float64);
        Assert.Equal(ModelPrecision.Float64, back.Precision);
        Assert.Equal(f32.Layers[0].Wxh.ToArray(), back.Layers[0].Wxh.ToArray());
        Assert.Equal($"{f64} float32", f32.ToString());
        Assert.Equal(f32.Precision, f32.WithName("renamed").Precision);
    }

    [Fact]
    public void Layers_OfAnotherPrecision_OrBeyondFloatsRange_AreRefusedNamingTheField()
    {
        var f32 = new RnnLayer(1, 1, [0.5], [0.3], [0.1], "layers[0]", ModelPrecision.Float32);
        var f64 = new RnnLayer(1, 1, [0.5], [0.3], [0.1], "layers[1]");
        var mixed = Assert.Throws<ModelValidationException>(() => new RnnModel("m", CellType.RnnTanh, OutputHead.Linear, 1, 1, 1, [f32, f64], [0.4], [0.2]));
        Assert.Equal("layers[1]: a float64 layer in a float32 model", mixed.Message);
        var huge = Assert.Throws<ModelValidationException>(() => new RnnLayer(1, 1, [0.5], [1e39], [0.1], "layers[0]", ModelPrecision.Float32));
        Assert.Equal("layers[0].W_hh", huge.Field);
        Assert.Contains("beyond the range of float32", huge.Message);
        var head = Assert.Throws<ModelValidationException>(() => new RnnModel("m", CellType.RnnTanh, OutputHead.Linear, 1, 1, 1, [f32], [-1e300], [0.2]));
        Assert.Equal("W_hy", head.Field);
    }

    internal static RnnModel Float32(RnnModel model) => model.WithPrecision(ModelPrecision.Float32);

    /// <summary>
    /// |actual − expected| / max(|expected|, <see cref="Floor"/>), the largest over the numbers: the relative error, and
    /// for values under 1e-2 the absolute error in hundredths.
    /// </summary>
    internal static double Error(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual)
    {
        var worst = 0.0;
        for (var i = 0; i < expected.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]) / Math.Max(Math.Abs(expected[i]), Floor));
        }

        return worst;
    }

    /// <summary>Five steps of a batch from random states: StepBatch against one Step per sequence, bit for bit.</summary>
    private static void AssertBatchSameBitsAsStep(RnnModel model, int batch, int seed)
    {
        var (d, s, o) = (model.InputSize, model.StateSize, model.OutputSize);
        var (states, expectedStates) = RandomStates(model, batch, seed);
        var ys = new double[batch * o];
        var expectedYs = new double[batch * o];
        for (var t = 0; t < 5; t++)
        {
            var xs = Flat(TestModels.RandomInputs((seed * 10) + t, batch, d, scale: 2));
            for (var b = 0; b < batch; b++)
            {
                model.Step(xs.AsSpan(b * d, d), expectedStates.AsSpan(b * s, s), expectedYs.AsSpan(b * o, o));
            }

            model.StepBatch(xs, states, ys);
            Assert.Equal(Bits(expectedStates), Bits(states));
            Assert.Equal(expectedYs, ys);
        }
    }

    /// <summary>
    /// TryStepBatch against one TryAdvance per sequence: the same verdicts, the good rows the same bits, the failed rows'
    /// states bit for bit as they were and their outputs NaN.
    /// </summary>
    private static void AssertTryStepBatchEqualsTryAdvance(RnnModel model, double[] xs, int batch, int[] bad)
    {
        var (d, s, o) = (model.InputSize, model.StateSize, model.OutputSize);
        var (states, perSequence) = RandomStates(model, batch, seed: batch + 1);
        var initial = Bits(states);
        var expectedYs = new double[batch * o];
        var verdicts = Enumerable.Range(0, batch)
            .Select(b => model.TryAdvance(xs.AsSpan(b * d, d), perSequence.AsSpan(b * s, s), expectedYs.AsSpan(b * o, o)) == 0).ToArray();
        Assert.Equal(Enumerable.Range(0, batch).Select(bad.Contains), verdicts);

        var (ys, failed) = (new double[batch * o], new bool[batch]);
        Assert.Equal(bad.Length, model.TryStepBatch(xs, states, ys, failed));
        Assert.Equal(verdicts, failed);
        Assert.Equal(Bits(perSequence), Bits(states));
        Assert.All(bad, b => Assert.Equal(initial.AsSpan(b * s, s).ToArray(), Bits(states).AsSpan(b * s, s).ToArray()));
        Assert.Equal(expectedYs.Select((y, i) => failed[i / o] ? double.NaN : y), ys);
    }

    /// <summary>Given h_0 (and c_0) for every sequence, twice: for the batch and for the one-by-one reference.</summary>
    private static (float[] States, float[] Copy) RandomStates(RnnModel model, int batch, int seed)
    {
        var random = new Random(seed);
        var states = Enumerable.Range(0, batch * model.StateSize).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        return (states, states.ToArray());
    }

    private static double[] Flat(double[][] rows) => [.. rows.SelectMany(r => r)];

    private static int[] Bits(float[] values) => [.. values.Select(BitConverter.SingleToInt32Bits)];
}
