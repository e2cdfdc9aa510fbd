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
        var floats = steps > 1 && S.Hidden32 is { } h32 ? h32.AsSpan(0, size).ToArray() : null;
        var doubles = steps > 1 && floats is null ? S.Hidden.AsSpan(0, size).ToArray() : null;
        for (var i = 1; i < steps; i++)
        {
            var x = y.AsSpan((i - 1) * o, o);
            var next = y.AsSpan(i * o, o);
            if ((floats is not null ? model.TryAdvance(x, floats, next) : model.TryAdvance(x, doubles!, next)) >= 0)
            {
                throw new NonFiniteResultException(Id, last + i); // the fed-back input of that element overflowed the state
            }
        }

        return Task.FromResult(new SequenceForecast(Id, S.ModelVersion, last, steps, o, y));
    }
}
