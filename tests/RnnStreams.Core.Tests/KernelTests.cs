using MathNet.Numerics.LinearAlgebra;
using RnnStreams.Core.Tests.Reference;

namespace RnnStreams.Core.Tests;

public class KernelTests
{
    public static TheoryData<int, int, int, int, CellType, OutputHead> Shapes() => new()
    {
        { 1, 1, 1, 1, CellType.RnnTanh, OutputHead.Linear },
        { 3, 5, 2, 1, CellType.RnnTanh, OutputHead.Linear },
        { 7, 13, 3, 1, CellType.RnnRelu, OutputHead.Linear },
        { 8, 64, 1, 1, CellType.RnnTanh, OutputHead.Linear },
        { 5, 33, 4, 2, CellType.RnnTanh, OutputHead.Softmax },
        { 2, 17, 3, 3, CellType.RnnRelu, OutputHead.Sigmoid },
        { 9, 67, 5, 2, CellType.RnnTanh, OutputHead.Sigmoid },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Step_SeededRandomModel_MatchesMathNetReference(int d, int h, int o, int layers, CellType cell, OutputHead head)
    {
        var model = TestModels.Random(seed: (d * 1000) + h, d, h, o, layers, cell, head, scale: 1.5);
        var reference = new MathNetReference(model);
        var state = new double[model.StateSize];
        var y = new double[o];
        foreach (var x in TestModels.RandomInputs(seed: h, count: 50, size: d, scale: 2))
        {
            model.Step(x, state, y);
            var expected = reference.Step(Vector<double>.Build.DenseOfArray(x));
            for (var i = 0; i < o; i++)
            {
                Assert.Equal(expected[i], y[i], 1e-12);
            }

            for (var k = 0; k < layers; k++)
            {
                for (var i = 0; i < h; i++)
                {
                    Assert.Equal(reference.Hidden(k)[i], state[(k * h) + i], 1e-12);
                }
            }
        }
    }

    [Fact]
    public void TryAdvance_ManySteps_EqualsStepByStep()
    {
        var model = TestModels.Random(7, 3, 11, 2, layers: 2);
        var inputs = TestModels.RandomInputs(8, 40, 3);
        var one = new double[model.StateSize];
        var expected = new double[40 * 2];
        foreach (var (x, t) in inputs.Select((x, t) => (x, t)))
        {
            model.Step(x, one, expected.AsSpan(t * 2, 2));
        }

        var batch = new double[model.StateSize];
        var ys = new double[40 * 2];
        Assert.Equal(-1, model.TryAdvance(inputs.SelectMany(x => x).ToArray(), batch, ys));
        Assert.Equal(expected, ys);
        Assert.Equal(one, batch);
    }

    [Fact]
    public void TryAdvance_NonFiniteInput_LeavesStateUnchanged()
    {
        var model = TestModels.Random(1, 2, 5, 1);
        var state = new double[model.StateSize];
        model.Step([0.3, -0.2], state, new double[1]);
        var before = state.ToArray();
        double[] xs = [0.1, 0.2, 0.3, double.NaN, 0.5, 0.6];

        Assert.Equal(1, model.TryAdvance(xs, state, new double[3]));
        Assert.Equal(before, state);
        Assert.Equal(0, model.TryAdvance([double.PositiveInfinity, 0], state, new double[1]));
        Assert.Equal(before, state);
    }

    [Fact]
    public void TryAdvance_OverflowingResult_LeavesStateUnchanged()
    {
        // ReLU with large weights: finite inputs of 1e300 overflow to +∞.
        var model = new RnnModel("relu", CellType.RnnRelu, OutputHead.Linear, 1, 2, 1,
            [new RnnLayer(1, 2, [1e10, 2], [1, 0, 0, 1], [0, 0])], [1, 1], [0]);
        var state = new double[model.StateSize];
        Assert.Equal(-1, model.TryAdvance([1.0], state, new double[1]));
        var before = state.ToArray();

        var failed = model.TryAdvance([1.0, 1e300, 1e300], state, new double[3]);

        Assert.Equal(1, failed);
        Assert.Equal(before, state);
    }

    [Fact]
    public void Step_ThrowsForWrongSizes()
    {
        var model = TestModels.Random(1, 3, 4, 2);
        var state = new double[model.StateSize];
        var y = new double[2];
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => model.Step(new double[2], state, y)).ParamName);
        Assert.Equal("state", Assert.Throws<ArgumentException>(() => model.Step(new double[3], new double[5], y)).ParamName);
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => model.Step(new double[3], state, new double[1])).ParamName);
        Assert.Equal("xs", Assert.Throws<ArgumentException>(() => model.TryAdvance(new double[4], state, new double[2])).ParamName);
        Assert.Equal("ys", Assert.Throws<ArgumentException>(() => model.TryAdvance(new double[6], state, new double[2])).ParamName);
    }

    [Fact]
    public void Softmax_LogitsAroundThousand_IsFiniteAndSumsToOne()
    {
        double[] logits = [1000, 999, 998.5, -1000];
        RnnModel.Softmax(logits);
        Assert.All(logits, p => Assert.True(double.IsFinite(p)));
        Assert.Equal(1.0, logits.Sum(), 1e-15);
        var e1 = Math.Exp(-1);
        var e15 = Math.Exp(-1.5);
        Assert.Equal(1 / (1 + e1 + e15), logits[0], 1e-15);
        Assert.Equal(0.0, logits[3], 1e-300);
    }

    [Fact]
    public void Step_SoftmaxHeadWithHugeLogits_GivesProbabilities()
    {
        var model = TestModels.Random(4, 2, 3, 3, output: OutputHead.Softmax, scale: 3000);
        var state = new double[model.StateSize];
        var y = new double[3];
        model.Step([1, -1], state, y);
        Assert.All(y, p => Assert.InRange(p, 0, 1));
        Assert.Equal(1.0, y.Sum(), 1e-12);
    }
}
