using MathNet.Numerics.Distributions;
using MathNet.Numerics.Statistics;

namespace RnnStreams.Core;

public sealed partial class RnnModel
{
    /// <summary>
    /// Rolls the model forward from a copy of <paramref name="state"/>: <paramref name="ys"/> (k×O) holds y_n in its first
    /// row on entry (the output of the last element, the forecast of the next input); each further row is the model fed the
    /// row before it. The state is not changed. Needs O = D unless k = 1.
    /// </summary>
    /// <returns>-1, or the 0-based row whose input or result was not finite (overflow).</returns>
    public int TryRollForward(ReadOnlySpan<double> state, Span<double> ys) => RollForward(state.ToArray(), ys, static (model, x, work, y) => model.TryAdvance(x, work, y));

    /// <summary>A float32 model's <see cref="TryRollForward(ReadOnlySpan{double}, Span{double})"/>.</summary>
    public int TryRollForward(ReadOnlySpan<float> state, Span<double> ys) => RollForward(state.ToArray(), ys, static (model, x, work, y) => model.TryAdvance(x, work, y));

    private delegate int Advance<T>(RnnModel model, ReadOnlySpan<double> x, T[] work, Span<double> y);

    private int RollForward<T>(T[] work, Span<double> ys, Advance<T> advance)
    {
        for (var i = OutputSize; i < ys.Length; i += OutputSize)
        {
            if (advance(this, ys.Slice(i - OutputSize, OutputSize), work, ys.Slice(i, OutputSize)) >= 0)
            {
                return i / OutputSize;
            }
        }

        return -1;
    }

    /// <summary>
    /// A forecaster's intervals for the next <c>k = lower.Length</c> values from <paramref name="state"/> (not changed), by
    /// sampling <paramref name="paths"/> futures: each path draws the next value from the forecast's distribution, feeds it
    /// back, and draws again; row i's interval is the (1 ∓ level)/2 quantiles of the paths' values i + 1 steps ahead (MathNet's
    /// quantile of the sample). Deterministic for a seed. False for a model without intervals or still warming up.
    /// </summary>
    public bool TrySampleIntervals(ReadOnlySpan<double> state, int paths, double level, int seed, Span<double> lower, Span<double> upper)
    {
        if (Forecaster is not { } forecaster || !HasIntervals || !forecaster.TryQuantile(state, _network!.StateSize, 0.5, out _))
        {
            return false;
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(paths, 2);
        var steps = lower.Length;
        var random = new Random(seed);
        var normal = new Normal(0, 1, random);
        var values = new double[steps][];
        for (var i = 0; i < steps; i++)
        {
            values[i] = new double[paths];
        }

        var work = new double[StateSize];
        var y = new double[1];
        for (var p = 0; p < paths; p++)
        {
            state.CopyTo(work);
            for (var i = 0; i < steps; i++)
            {
                var value = forecaster.ValueAt(work, _network!.StateSize, normal.Sample());
                values[i][p] = value;
                if (i + 1 < steps)
                {
                    forecaster.Step(_network, value, 0, work, y);
                }
            }
        }

        for (var i = 0; i < steps; i++)
        {
            lower[i] = values[i].Quantile((1 - level) / 2);
            upper[i] = values[i].Quantile((1 + level) / 2);
        }

        return true;
    }
}
