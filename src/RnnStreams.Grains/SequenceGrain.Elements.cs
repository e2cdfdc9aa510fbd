using RnnStreams.Core;

namespace RnnStreams.Grains;

/// <summary>The element path: validate → dedup → step → persist → publish.</summary>
public sealed partial class SequenceGrain
{
    private async Task<StepResult> StepAsync(long n, double[] x, long timeTicks)
    {
        var (name, model, version) = await CurrentOrDefaultModel();
        var repeated = Admit(model, n, 1);
        if (repeated is not null)
        {
            return new StepResult(n, repeated, version, Duplicate: true, DurableN: _ledger.DurableN);
        }

        CheckInput(model, n, x);
        var y = new double[model.OutputSize];
        ReadOnlyMemory<long> times = default;
        if (timeTicks != 0)
        {
            _time ??= new long[1];
            _time[0] = timeTicks;
            times = _time;
        }

        var details = await ApplyAsync(name, model, version, n, x, y, times);
        var interval = Interval(details, 0);
        var anomaly = details is not null && details.IsAnomaly(0);
        var toStream = PublishesOutputs;
        if (toStream || _services.Sink is not null)
        {
            var now = DateTime.UtcNow.Ticks;
            await PublishStepAsync(new SequenceOutput(Id, n, y, version, SentAt: now, X: x, Interval: interval), toStream);
            if (anomaly)
            {
                await PublishStepAsync(AnomalyEvent(details!, 0, n, x, version, now), toStream);
            }
        }
        else if (anomaly)
        {
            RnnMetrics.Anomaly(Id);
        }

        return new StepResult(n, y, version, DurableN: _ledger.DurableN, Interval: interval, Anomaly: anomaly);
    }

    /// <summary>Element i's forecast interval, or null (no intervals, or warming up).</summary>
    private static ForecastInterval? Interval(ForecastDetails? details, int i) =>
        details is null || double.IsNaN(details.Lower[i]) ? null : new ForecastInterval(details.Level, details.Lower[i], details.Upper[i]);

    /// <summary>The event of element i (number n) that fell outside its forecast's interval at the anomaly level; also counted.</summary>
    private SequenceOutput AnomalyEvent(ForecastDetails details, int i, long n, double[] x, int version, long now)
    {
        RnnMetrics.Anomaly(Id);
        return new SequenceOutput(Id, n, [(details.AnomalyLower[i] + details.AnomalyUpper[i]) / 2], version, OutputKind.Anomaly, SentAt: now, X: x,
            Interval: new ForecastInterval(details.AnomalyLevel, details.AnomalyLower[i], details.AnomalyUpper[i]), Surprise: details.Surprise[i]);
    }

    private async Task<StepBatchResult> StepManyAsync(long firstN, double[] inputs, DateTime[]? times)
    {
        if (inputs is null || inputs.Length == 0)
        {
            throw new RnnArgumentException("inputs", "a batch needs at least one element");
        }

        var (name, model, version) = await CurrentOrDefaultModel();
        if (inputs.Length % model.InputSize != 0)
        {
            throw new InvalidInputException(
                RnnErrorKind.WrongSize,
                $"a batch holds k×{model.InputSize} numbers; got {inputs.Length}, which is not a multiple of {model.InputSize}",
                firstN,
                model.InputSize,
                inputs.Length,
                -1);
        }

        var count = inputs.Length / model.InputSize;
        if (times is not null && times.Length != count)
        {
            throw new RnnArgumentException("times", $"{times.Length} times for {count} elements; give one per element, or none");
        }

        var outputSize = model.OutputSize;
        var stored = Admit(model, firstN, count);
        var outputs = new double[count * outputSize];
        var repeated = 0;
        if (stored is not null)
        {
            repeated = stored.Length / outputSize;
            stored.CopyTo(outputs, 0);
            if (repeated == count)
            {
                return new StepBatchResult(firstN, count, outputSize, outputs, version, repeated, _ledger.DurableN);
            }
        }

        var freshFirstN = firstN + repeated;
        var fresh = inputs.AsMemory(repeated * model.InputSize);
        var bad = Vectors.IndexOfNonFinite(fresh.Span);
        if (bad >= 0)
        {
            var element = bad / model.InputSize;
            throw InvalidInputException.NonFinite($"element {freshFirstN + element}", freshFirstN + element, bad % model.InputSize, fresh.Span[bad], model.InputSize);
        }

        CheckDomain(model, freshFirstN, fresh.Span);

        ReadOnlyMemory<long> freshTimes = times is null ? default : times.Skip(repeated).Select(t => t.Ticks).ToArray();
        var details = await ApplyAsync(name, model, version, freshFirstN, fresh, outputs.AsMemory(repeated * outputSize), freshTimes);
        var toStream = PublishesOutputs;
        var anomalies = details is null ? null : Enumerable.Range(0, count - repeated).Where(details.IsAnomaly).Select(i => freshFirstN + i).ToArray();
        if (toStream || _services.Sink is not null)
        {
            var now = DateTime.UtcNow.Ticks;
            for (var i = repeated; i < count; i++)
            {
                var x = inputs.AsSpan(i * model.InputSize, model.InputSize).ToArray();
                await PublishStepAsync(new SequenceOutput(Id, firstN + i, outputs.AsSpan(i * outputSize, outputSize).ToArray(), version, SentAt: now,
                    X: x, Interval: Interval(details, i - repeated)), toStream);
                if (details is not null && details.IsAnomaly(i - repeated))
                {
                    await PublishStepAsync(AnomalyEvent(details, i - repeated, firstN + i, x, version, now), toStream);
                }
            }
        }
        else if (anomalies is { Length: > 0 })
        {
            foreach (var _ in anomalies)
            {
                RnnMetrics.Anomaly(Id);
            }
        }

        return new StepBatchResult(firstN, count, outputSize, outputs, version, repeated, _ledger.DurableN)
        {
            Lower = details is null ? null : [.. Enumerable.Repeat(double.NaN, repeated), .. details.Lower],
            Upper = details is null ? null : [.. Enumerable.Repeat(double.NaN, repeated), .. details.Upper],
            IntervalLevel = details?.Level ?? 0,
            Anomalies = anomalies is { Length: > 0 } ? anomalies : null,
        };
    }

    /// <summary>The model to step with: the pinned one, or the default model for a sequence that has not started.</summary>
    private async ValueTask<(string Name, RnnModel Model, int Version)> CurrentOrDefaultModel()
    {
        if (S.Model is not null)
        {
            return (S.Model, RequireModel(), S.ModelVersion);
        }

        if (string.IsNullOrEmpty(_services.Options.DefaultModel))
        {
            throw new SequenceNotStartedException(Id, "call Start first (no default model is configured)");
        }

        var resolved = await _services.Models.GetAsync(_services.Options.DefaultModel, null);
        return (_services.Options.DefaultModel, resolved.Model, resolved.Version);
    }

    /// <summary>
    /// Checks the element numbers <c>n … n+count-1</c> against the last applied one. Returns null when n is the next
    /// element, or the stored outputs of the leading elements that were already applied.
    /// </summary>
    private double[]? Admit(RnnModel model, long n, int count)
    {
        if (n < 1)
        {
            throw new RnnArgumentException("n", $"element numbers start at 1, got {n}");
        }

        var last = S.LastN;
        if (n == last + 1)
        {
            return null;
        }

        if (n > last + 1)
        {
            throw new ElementGapException(Id, last + 1, n, S.Model is null ? "it has no stored state: it never started, it ended, or its storage lost it" : null);
        }

        var kept = Math.Min(S.RecentCapacity, last);
        var oldestKept = last - kept + 1;
        if (n < oldestKept)
        {
            throw new DuplicateElementException(Id, n, last, oldestKept);
        }

        var repeated = (int)Math.Min(count, last - n + 1);
        var outputSize = model.OutputSize;
        var stored = new double[repeated * outputSize];
        for (var i = 0; i < repeated; i++)
        {
            Slot(S, n + i, outputSize).CopyTo(stored.AsSpan(i * outputSize, outputSize));
        }

        return stored;
    }

    private static void CheckInput(RnnModel model, long n, double[]? x)
    {
        if (x is null)
        {
            throw InvalidInputException.WrongSize($"element {n}", n, model.InputSize, 0);
        }

        if (x.Length != model.InputSize)
        {
            throw InvalidInputException.WrongSize($"element {n}", n, model.InputSize, x.Length);
        }

        var bad = Vectors.IndexOfNonFinite(x);
        if (bad >= 0)
        {
            throw InvalidInputException.NonFinite($"element {n}", n, bad, x[bad], model.InputSize);
        }

        CheckDomain(model, n, x);
    }

    /// <summary>A forecaster's values must be ones it can transform (above 0 for a log model): refused before stepping.</summary>
    private static void CheckDomain(RnnModel model, long n, ReadOnlySpan<double> xs)
    {
        if (model.Forecaster is not { } forecaster)
        {
            return;
        }

        for (var i = 0; i < xs.Length; i++)
        {
            if (!forecaster.Accepts(xs[i]))
            {
                throw InvalidInputException.OutOfDomain($"element {n + i}", n + i, xs[i], "this model forecasts log(value), so every value must be above 0");
            }
        }
    }

    /// <summary>
    /// Steps <c>xs</c> (k×D) from element <paramref name="firstN"/> into the state the ledger drafts (the live one, or a
    /// copy when the policy needs the elements written before they are acknowledged), writes k×O outputs to
    /// <paramref name="ys"/>, and commits. A first element starts the sequence on the default model.
    /// </summary>
    private async Task<ForecastDetails?> ApplyAsync(string name, RnnModel model, int version, long firstN, ReadOnlyMemory<double> xs, Memory<double> ys, ReadOnlyMemory<long> times)
    {
        var count = xs.Length / model.InputSize;
        var isNew = S.Model is null;
        var next = isNew ? NewState(name, version, model, new double[model.StateSize], null) : await _ledger.DraftAsync(count);
        var batched = _services.Batcher.Batches(model);
        var details = model.HasIntervals ? new ForecastDetails(count, _services.Options.IntervalLevel, _services.Options.AnomalyLevel) : null;
        var failed = next.Hidden32 is { } floats // all or nothing, every way
            ? batched ? await _services.Batcher.AdvanceAsync(model, _batchRequest ??= new StepBatcher.Request(), xs, floats, ys) : model.TryAdvance(xs.Span, floats, ys.Span)
            : batched ? await _services.Batcher.AdvanceAsync(model, _batchRequest ??= new StepBatcher.Request(), xs, next.Hidden, ys) : model.TryAdvance(xs.Span, times.Span, next.Hidden, ys.Span, details);
        if (failed >= 0)
        {
            throw new NonFiniteResultException(Id, firstN + failed);
        }

        // Before the new outputs go into the kept ones, which still hold y of element firstN−1.
        var recentError = RecentForecastError(model, next, firstN, xs.Span, ys.Span);
        var outputSize = model.OutputSize;
        for (var i = 0; i < count; i++)
        {
            ys.Span.Slice(i * outputSize, outputSize).CopyTo(Slot(next, firstN + i, outputSize));
        }

        next.LastN = firstN + count - 1;
        next.UpdatedAt = DateTimeOffset.UtcNow;
        if (isNew)
        {
            await BeginAsync(next, model, () => _ledger.CommitAsync(next, firstN));
        }
        else
        {
            await _ledger.CommitAsync(next, firstN);
        }

        Recorded(model, firstN, xs.Span, ys.Span, recentError, details);
        return details;
    }

    private static Span<double> Slot(SequenceState state, long n, int outputSize) =>
        state.RecentOutputs.AsSpan((int)((n - 1) % state.RecentCapacity) * outputSize, outputSize);
}
