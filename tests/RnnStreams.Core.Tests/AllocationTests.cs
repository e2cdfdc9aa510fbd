namespace RnnStreams.Core.Tests;

/// <summary>The hot path allocates nothing per step.</summary>
public class AllocationTests
{
    [Theory]
    [InlineData(8, 64, 1, 1, CellType.RnnTanh, OutputHead.Linear)]
    [InlineData(3, 33, 4, 2, CellType.RnnRelu, OutputHead.Softmax)]
    [InlineData(2, 7, 2, 3, CellType.RnnTanh, OutputHead.Sigmoid)]
    public void Step_AfterWarmUp_AllocatesNothing(int d, int h, int o, int layers, CellType cell, OutputHead head)
    {
        var model = TestModels.Random(11, d, h, o, layers, cell, head);
        var x = TestModels.RandomInputs(12, 1, d)[0];
        var state = new double[model.StateSize];
        var y = new double[o];
        var xs = TestModels.RandomInputs(13, 16, d).SelectMany(v => v).ToArray();
        var ys = new double[16 * o];
        model.Step(x, state, y);
        model.TryAdvance(xs, state, ys);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            model.Step(x, state, y);
            model.TryAdvance(xs, state, ys);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }
}
