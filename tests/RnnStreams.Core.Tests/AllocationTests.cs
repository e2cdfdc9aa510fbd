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

    [Theory]
    [InlineData(CellType.RnnTanh, false, 37)]
    [InlineData(CellType.Gru, false, 37)]
    [InlineData(CellType.Lstm, false, 70)]
    [InlineData(CellType.Gru, true, 70)]
    [InlineData(CellType.Lstm, true, 5)]
    public void StepBatchAndTryStepBatch_AfterWarmUp_AllocateNothing(CellType cell, bool scaled, int batch)
    {
        var network = RandomModel.Create("batch", 3, 33, 3, layers: 2, cell, seed: 14);
        var model = scaled ? TestModels.Scaled(network, seed: 15, residual: true) : network;
        var xs = TestModels.RandomInputs(16, batch, 3).SelectMany(v => v).ToArray();
        xs[1] = double.NaN;
        var states = new double[batch * model.StateSize];
        var ys = new double[batch * 3];
        var failed = new bool[batch];
        model.StepBatch(xs, states, ys);
        model.TryStepBatch(xs, states, ys, failed);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 200; i++)
        {
            model.TryStepBatch(xs, states, ys, failed);
            model.StepBatch(xs, states, ys);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
