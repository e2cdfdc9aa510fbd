using RnnStreams.Core;

namespace RnnStreams.Grains;

/// <summary>Multi-step forecasts from the live state, on a copy: the sequence itself does not move.</summary>
public sealed partial class SequenceGrain
{
    public Task<SequenceForecast> Forecast(int steps)
    {
        var model = RequireModel();
        if (steps is < 1 or > RnnConstants.MaxForecastSteps)
        {
            throw new RnnArgumentException("steps", $"a forecast is 1 to {RnnConstants.MaxForecastSteps} steps, got {steps}");
        }

        var last = S.LastN;
        if (last == 0)
        {
            throw new RnnArgumentException("steps", "the sequence has applied no element yet: a forecast starts from the output of the last one");
        }

        int d = model.InputSize, o = model.OutputSize;
        if (steps > 1 && o != d)
        {
            throw new RnnArgumentException("steps",
                $"rolling forward feeds each output back as the next input, which needs a model whose output is its whole input; this one takes {d} numbers and gives {o}: only steps=1 (y_{last}) is defined");
        }

        var y = new double[steps * o];
        Slot(S, last, o).CopyTo(y);

        // Row i feeds row i−1 back as the input and steps a copy of the state; the sequence's own state is never touched.
        var size = model.StateSize;
        var failed = S.Hidden32 is { } h32 ? model.TryRollForward(h32.AsSpan(0, size), y) : model.TryRollForward(S.Hidden.AsSpan(0, size), y);
        if (failed >= 0)
        {
            throw new NonFiniteResultException(Id, last + failed); // the fed-back input of that element overflowed the state
        }

        // A forecaster's intervals: sampled futures, the same for the same sequence at the same element.
        double[]? lower = null, upper = null;
        if (model.HasIntervals)
        {
            (lower, upper) = (new double[steps], new double[steps]);
            var level = _services.Options.IntervalLevel;
            if (!model.TrySampleIntervals(S.Hidden.AsSpan(0, size), RnnConstants.ForecastPaths, level, Seed(Id, last), lower, upper))
            {
                (lower, upper) = (null, null); // still warming up
            }
        }

        return Task.FromResult(new SequenceForecast(Id, S.ModelVersion, last, steps, o, y)
        {
            Lower = lower,
            Upper = upper,
            IntervalLevel = lower is null ? 0 : _services.Options.IntervalLevel,
        });
    }

    /// <summary>A seed stable across processes (string hashes are not): FNV-1a of the id's characters and the element number.</summary>
    private static int Seed(string id, long n)
    {
        var hash = 2166136261u;
        foreach (var c in id)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)((hash ^ (uint)n ^ (uint)(n >> 32)) & int.MaxValue);
    }
}
