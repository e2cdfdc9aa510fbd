using RnnStreams.Core;

namespace RnnStreams.Grains;

/// <summary>
/// What a sequence tells the silo's <see cref="SiloStatsCollector"/> about its forecasts, and the short in-memory history
/// a chart draws at once (<see cref="History"/>). Neither is stored: both start again with a new activation.
/// </summary>
public sealed partial class SequenceGrain
{
    /// <summary>x_t[0], y_t[0] of the last elements, slot (n−1) mod its size; from 16 elements at the first, doubled up to <c>KeepHistory</c>.</summary>
    private double[]? _history;

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
        var x = new double[count];
        var y = new double[count];
        for (var i = 0; i < count; i++)
        {
            var slot = (int)((first + i - 1) % size);
            x[i] = _history![2 * slot];
            y[i] = _history[(2 * slot) + 1];
        }

        // Right after a reset the error of the old numbering no longer applies; element 1 then starts a new one.
        var error = last == 0 || double.IsNaN(_recentError) ? (double?)null : _recentError;
        return Task.FromResult(new SequenceHistory(Id, S.Model!, S.ModelVersion, first, x, y, last, error));
    }

    /// <summary>Elements the history ring holds now: it grows by doubling from 16 up to <c>KeepHistory</c>.</summary>
    private int HistorySize => _history is null ? 0 : _history.Length / 2;

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
            _history![2 * slot] = xs[i * d];
            _history[(2 * slot) + 1] = ys[i * o];
        }
    }

    /// <summary>Moves the recorded elements up to <paramref name="lastN"/> into a ring of <paramref name="size"/>.</summary>
    private void GrowHistory(int size, long lastN)
    {
        var grown = new double[2 * size];
        var old = HistorySize;
        for (var n = Math.Max(_historyFirstN, lastN - Math.Min(old, size) + 1); old > 0 && n <= lastN; n++)
        {
            int from = (int)((n - 1) % old), to = (int)((n - 1) % size);
            grown[2 * to] = _history![2 * from];
            grown[(2 * to) + 1] = _history[(2 * from) + 1];
        }

        _history = grown;
    }
}
