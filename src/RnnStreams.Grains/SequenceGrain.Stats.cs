using RnnStreams.Core;

namespace RnnStreams.Grains;

/// <summary>
/// What a sequence tells the silo's <see cref="SiloStatsCollector"/> about its forecasts, and the short in-memory history
/// a chart draws at once (<see cref="History"/>). Neither is stored: both start again with a new activation.
/// </summary>
public sealed partial class SequenceGrain
{
    /// <summary>x_t[0], y_t[0] of the last <c>KeepHistory</c> elements, slot (n−1) mod capacity; allocated at the first element.</summary>
    private double[]? _history;

    /// <summary>The first element this activation recorded in <see cref="_history"/> since it was (re)numbered from 1; 0 before any.</summary>
    private long _historyFirstN;

    /// <summary>The recent forecast error (<see cref="ForecastError"/>); NaN before the first comparison.</summary>
    private double _recentError = double.NaN;

    public Task<SequenceHistory> History()
    {
        RequireModel();
        var capacity = _services.Options.KeepHistory;
        var last = S.LastN;
        var first = _historyFirstN == 0 || capacity == 0 ? last + 1 : Math.Max(_historyFirstN, last - capacity + 1);
        var count = (int)Math.Max(0, last - first + 1);
        var x = new double[count];
        var y = new double[count];
        for (var i = 0; i < count; i++)
        {
            var slot = (int)((first + i - 1) % capacity);
            x[i] = _history![2 * slot];
            y[i] = _history[(2 * slot) + 1];
        }

        // Right after a reset the error of the old numbering no longer applies; element 1 then starts a new one.
        var error = last == 0 || double.IsNaN(_recentError) ? (double?)null : _recentError;
        return Task.FromResult(new SequenceHistory(Id, S.Model!, S.ModelVersion, first, x, y, last, error));
    }

    /// <summary>
    /// The recent forecast error after elements <paramref name="firstN"/>… (inputs <paramref name="xs"/>, outputs
    /// <paramref name="ys"/>), from the state <paramref name="before"/> them, whose kept outputs still hold y of element
    /// firstN−1: call before the new outputs are copied into the kept ones. NaN when the model does not forecast its input.
    /// </summary>
    private double RecentForecastError(RnnModel model, SequenceState before, long firstN, ReadOnlySpan<double> xs, ReadOnlySpan<double> ys)
    {
        int d = model.InputSize, o = model.OutputSize;
        if (!ForecastError.Applies(d, o))
        {
            return double.NaN;
        }

        var recent = firstN == 1 ? double.NaN : _recentError;
        var count = xs.Length / d;
        for (var i = 0; i < count; i++)
        {
            var n = firstN + i;
            if (n > 1)
            {
                var previous = i == 0 ? Slot(before, n - 1, o) : ys.Slice((i - 1) * o, o);
                recent = ForecastError.Smooth(recent, ForecastError.Of(xs.Slice(i * d, d), previous));
            }
        }

        return recent;
    }

    /// <summary>Elements <paramref name="firstN"/>… are applied (and written where the policy says): record them.</summary>
    private void Recorded(RnnModel model, long firstN, ReadOnlySpan<double> xs, ReadOnlySpan<double> ys, double recentError)
    {
        int d = model.InputSize, o = model.OutputSize;
        var count = xs.Length / d;
        var lastN = firstN + count - 1;
        _recentError = recentError;
        if (!double.IsNaN(recentError))
        {
            _services.Stats.Forecast(GrainContext.GrainId, recentError, lastN);
        }

        var capacity = _services.Options.KeepHistory;
        if (capacity == 0)
        {
            return;
        }

        _history ??= new double[2 * capacity];
        if (_historyFirstN == 0 || firstN == 1)
        {
            _historyFirstN = firstN;
        }

        for (var i = Math.Max(0, count - capacity); i < count; i++)
        {
            var slot = (int)((firstN + i - 1) % capacity);
            _history[2 * slot] = xs[i * d];
            _history[(2 * slot) + 1] = ys[i * o];
        }
    }
}
