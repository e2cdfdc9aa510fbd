using RnnStreams.Core;

namespace RnnStreams.Grains;

/// <summary>
/// What a sequence tells the silo's <see cref="SiloStatsCollector"/> about its forecasts, and the short in-memory history
/// a chart draws at once (<see cref="History"/>). Neither is stored: both start again with a new activation.
/// </summary>
public sealed partial class SequenceGrain
{
    /// <summary>
    /// x_t[0], y_t[0] (and a forecaster's interval of y_t, lower and upper) of the last elements, slot (n−1) mod its size;
    /// from 16 elements at the first, doubled up to <c>KeepHistory</c>.
    /// </summary>
    private double[]? _history;

    /// <summary>Numbers per element in <see cref="_history"/>: 2, or 4 for a model with intervals.</summary>
    private int _historyStride = 2;

    /// <summary>The first element this activation recorded in <see cref="_history"/> since it was (re)numbered from 1; 0 before any.</summary>
    private long _historyFirstN;

    /// <summary>The recent forecast error (<see cref="ForecastError"/>); NaN before the first comparison.</summary>
    private double _recentError = double.NaN;

    /// <summary>Whether the silo's top-error list holds this sequence (true until the first answer: not known then).</summary>
    private bool _listed = true;

    public Task<SequenceHistory> History()
    {
        RequireModel();
        var size = HistorySize;
        var last = S.LastN;
        var first = _historyFirstN == 0 || size == 0 ? last + 1 : Math.Max(_historyFirstN, last - size + 1);
        var count = (int)Math.Max(0, last - first + 1);
        var stride = _historyStride;
        var x = new double[count];
        var y = new double[count];
        var lower = stride == 4 ? new double[count] : null;
        var upper = stride == 4 ? new double[count] : null;
        for (var i = 0; i < count; i++)
        {
            var slot = (int)((first + i - 1) % size);
            x[i] = _history![stride * slot];
            y[i] = _history[(stride * slot) + 1];
            if (stride == 4)
            {
                lower![i] = _history[(stride * slot) + 2];
                upper![i] = _history[(stride * slot) + 3];
            }
        }

        // Right after a reset the error of the old numbering no longer applies; element 1 then starts a new one.
        var error = last == 0 || double.IsNaN(_recentError) ? (double?)null : _recentError;
        return Task.FromResult(new SequenceHistory(Id, S.Model!, S.ModelVersion, first, x, y, last, error) { Lower = lower, Upper = upper });
    }

    /// <summary>Elements the history ring holds now: it grows by doubling from 16 up to <c>KeepHistory</c>.</summary>
    private int HistorySize => _history is null ? 0 : _history.Length / _historyStride;

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
    private void Recorded(RnnModel model, long firstN, ReadOnlySpan<double> xs, ReadOnlySpan<double> ys, double recentError, ForecastDetails? details)
    {
        int d = model.InputSize, o = model.OutputSize;
        var count = xs.Length / d;
        var lastN = firstN + count - 1;
        _recentError = recentError;
        if (!double.IsNaN(recentError))
        {
            _listed = _services.Stats.Forecast(GrainContext.GrainId, recentError, lastN, _listed);
        }

        var capacity = _services.Options.KeepHistory;
        if (capacity == 0)
        {
            return;
        }

        if (_historyFirstN == 0 || firstN == 1)
        {
            _historyFirstN = firstN;
        }

        // A model with intervals keeps them beside x and y (a change of model kind starts the ring again).
        var stride = details is null ? 2 : 4;
        if (stride != _historyStride)
        {
            (_history, _historyStride, _historyFirstN) = (null, stride, firstN);
        }

        // A sequence that applies a few elements costs a few hundred bytes, not the whole ring.
        var needed = (int)Math.Min(capacity, lastN - _historyFirstN + 1);
        if (HistorySize < needed)
        {
            GrowHistory((int)Math.Min(capacity, Math.Max(needed, Math.Max(16, 2L * HistorySize))), firstN - 1);
        }

        var size = HistorySize;
        for (var i = Math.Max(0, count - size); i < count; i++)
        {
            var slot = (int)((firstN + i - 1) % size);
            _history![stride * slot] = xs[i * d];
            _history[(stride * slot) + 1] = ys[i * o];
            if (details is not null)
            {
                _history[(stride * slot) + 2] = details.Lower[i];
                _history[(stride * slot) + 3] = details.Upper[i];
            }
        }
    }

    /// <summary>Moves the recorded elements up to <paramref name="lastN"/> into a ring of <paramref name="size"/>.</summary>
    private void GrowHistory(int size, long lastN)
    {
        var stride = _historyStride;
        var grown = new double[stride * size];
        var old = HistorySize;
        for (var n = Math.Max(_historyFirstN, lastN - Math.Min(old, size) + 1); old > 0 && n <= lastN; n++)
        {
            int from = (int)((n - 1) % old), to = (int)((n - 1) % size);
            _history!.AsSpan(stride * from, stride).CopyTo(grown.AsSpan(stride * to, stride));
        }

        _history = grown;
    }
}
