using RnnStreams.Core;

namespace RnnStreams.Grains;

// TEMPORARY: until the batched kernels land in Core (branch batch-kernels); delete then.
internal static class TryStepBatchShim
{
    public static int TryStepBatch(this RnnModel model, ReadOnlySpan<double> xs, Span<double> states, Span<double> ys, Span<bool> failed)
    {
        var count = 0;
        for (var b = 0; b < failed.Length; b++)
        {
            failed[b] = model.TryAdvance(xs.Slice(b * model.InputSize, model.InputSize), states.Slice(b * model.StateSize, model.StateSize), ys.Slice(b * model.OutputSize, model.OutputSize)) >= 0;
            count += failed[b] ? 1 : 0;
        }

        return count;
    }
}
