using Microsoft.Extensions.Logging;
using RnnStreams.Core;

namespace RnnStreams.Grains;

public sealed partial class SequenceGrain
{
    /// <summary>The model to step with: the pinned one, or the default model for a sequence that has not started.</summary>
    private async ValueTask<(string Name, RnnModel Model, int Version)> CurrentOrDefaultModel()
    {
        if (S.Model is not null)
        {
            return (S.Model, RequireModel(), S.ModelVersion);
        }

        if (string.IsNullOrEmpty(services.Options.DefaultModel))
        {
            throw new SequenceNotStartedException(Id, "call Start first (no default model is configured)");
        }

        var resolved = await services.Models.GetAsync(services.Options.DefaultModel, null);
        return (services.Options.DefaultModel, resolved.Model, resolved.Version);
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
            throw new ElementGapException(Id, last + 1, n);
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
            Slot(n + i, outputSize).CopyTo(stored.AsSpan(i * outputSize, outputSize));
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
    }

    /// <summary>The initial state as the model lays it out: h_0 of every layer, then (LSTM) c_0 of every layer; zeros where not given.</summary>
    private static double[] FlattenInitialState(RnnModel model, double[][]? hidden, double[][]? cell)
    {
        if (cell is not null && !model.HasCellState)
        {
            throw new InvalidInputException(
                RnnErrorKind.WrongSize,
                $"an initial cell state (c_0) is only for lstm models; this model is {model.Cell.ToFileName()}",
                0,
                0,
                cell.Length,
                -1);
        }

        var flat = new double[model.StateSize];
        if (hidden is not null)
        {
            CopyRows(model, hidden, "initial state", flat, 0);
        }

        if (cell is not null)
        {
            CopyRows(model, cell, "initial cell state", flat, model.CellStateOffset);
        }

        return flat;
    }

    private static void CopyRows(RnnModel model, double[][] rows, string what, double[] flat, int offset)
    {
        if (rows.Length != model.LayerCount)
        {
            throw new InvalidInputException(
                RnnErrorKind.WrongSize,
                $"the {what} has {rows.Length} rows; the model has {model.LayerCount} layers (one row of {model.HiddenSize} per layer)",
                0,
                model.LayerCount,
                rows.Length,
                -1);
        }

        for (var k = 0; k < rows.Length; k++)
        {
            var row = rows[k];
            if (row is null || row.Length != model.HiddenSize)
            {
                throw InvalidInputException.WrongSize($"{what} row {k}", 0, model.HiddenSize, row?.Length ?? 0);
            }

            var bad = Vectors.IndexOfNonFinite(row);
            if (bad >= 0)
            {
                throw InvalidInputException.NonFinite($"{what} row {k}", 0, bad, row[bad], model.HiddenSize);
            }

            row.CopyTo(flat, offset + (k * model.HiddenSize));
        }
    }

    /// <summary>
    /// Pins a new sequence to its model, once everything about the request is known to be valid: counts it as a user
    /// of the version first (so a crash can only over-count) and arms the expiry reminder when expiry is on.
    /// </summary>
    private async Task BeginAsync(string name, int version, RnnModel model, double[] hidden, double[]? initial)
    {
        try
        {
            await services.Models.Usage(name).Acquire(version);
            if (services.Options.ExpireAfter is { } expire)
            {
                // One tick per expiry period: a sequence silent since its last element ends between ExpireAfter and twice
                // that, and an idle one is not kept active (each tick is a call that wakes it).
                var period = services.Options.ExpiryCheckPeriod ?? TimeSpan.FromTicks(Math.Max(TimeSpan.FromMinutes(1).Ticks, expire.Ticks));
                await this.RegisterOrUpdateReminder(ExpiryReminder, period, period);
            }
        }
        catch (Exception e) when (e is not RnnStreamsException)
        {
            throw new RnnStorageException(Id, 0, $"could not register the sequence: {e.Message}");
        }

        var capacity = Math.Max(1, services.Options.KeepOutputs);
        _live = new SequenceState
        {
            Model = string.Intern(name), // one copy of a model's name for all its sequences
            ModelVersion = version,
            Hidden = hidden,
            InitialState = initial,
            LastN = 0,
            UpdatedAt = DateTimeOffset.UtcNow,
            RecentCapacity = capacity,
            RecentOutputs = new double[capacity * model.OutputSize],
        };
        _model = model;
        _policy = services.Options.PolicyFor(name);
        _lastDurableN = 0;
        _dirty = true;
    }

    /// <summary>Undoes <see cref="BeginAsync"/> after its first write failed: the sequence is not started.</summary>
    private async Task AbandonStartAsync(string name, int version)
    {
        _live = new SequenceState();
        _model = null;
        _dirty = false;
        _stepsSinceWrite = 0;
        try
        {
            await services.Models.Usage(name).Release(version);
        }
        catch (Exception e)
        {
            LogWriteFailed(services.Logger, e, Id, 0); // the count stays one too high: safe, the version is only harder to delete
        }
    }

    /// <summary>
    /// Steps <c>xs</c> (k×D) from element <paramref name="firstN"/>, writes k×O outputs to <paramref name="ys"/> and makes
    /// the result as durable as the policy says. Under EveryStep nothing stays applied unless the write succeeded.
    /// </summary>
    private async Task ApplyAsync(string name, RnnModel model, int version, long firstN, ReadOnlyMemory<double> xs, Memory<double> ys)
    {
        var isNew = S.Model is null;
        var everyStep = (isNew ? services.Options.PolicyFor(name) : _policy).Mode == DurabilityMode.EveryStep;
        var hidden = isNew ? new double[model.StateSize] : everyStep ? S.Hidden.ToArray() : S.Hidden;
        var failed = model.TryAdvance(xs.Span, hidden, ys.Span);
        if (failed >= 0)
        {
            throw new NonFiniteResultException(Id, firstN + failed);
        }

        if (isNew)
        {
            await BeginAsync(name, version, model, hidden, null);
        }

        var count = xs.Length / model.InputSize;
        var undoHidden = S.Hidden;
        var undoLastN = S.LastN;
        var undoUpdatedAt = S.UpdatedAt;
        var undoDirty = _dirty;
        var undoSteps = _stepsSinceWrite;
        var undoRing = everyStep && !isNew ? S.RecentOutputs.ToArray() : null;

        S.Hidden = hidden;
        var outputSize = model.OutputSize;
        for (var i = 0; i < count; i++)
        {
            ys.Span.Slice(i * outputSize, outputSize).CopyTo(Slot(firstN + i, outputSize));
        }

        S.LastN = firstN + count - 1;
        S.UpdatedAt = DateTimeOffset.UtcNow;
        _dirty = true;
        _stepsSinceWrite += count;

        if (everyStep)
        {
            try
            {
                await WriteAsync();
            }
            catch (Exception e) when (e is not RnnStreamsException)
            {
                if (isNew)
                {
                    await AbandonStartAsync(name, version);
                }
                else
                {
                    S.Hidden = undoHidden;
                    S.LastN = undoLastN;
                    S.UpdatedAt = undoUpdatedAt;
                    S.RecentOutputs = undoRing!;
                    _dirty = undoDirty;
                    _stepsSinceWrite = undoSteps;
                }

                LogWriteFailed(services.Logger, e, Id, firstN);
                throw new RnnStorageException(Id, firstN, e.Message);
            }
        }
        else if (_policy.Mode == DurabilityMode.Checkpoint)
        {
            CheckpointIfDue();
        }
    }

    /// <summary>
    /// Under <c>Checkpoint(k, t)</c> the step is acknowledged at once, so its checkpoint need not hold it up: the write
    /// starts here and finishes in the background while later elements are applied (the grain awaits it before any
    /// other write, on End and on deactivation). <see cref="_lastDurableN"/> moves only when the write has succeeded.
    /// </summary>
    private void CheckpointIfDue()
    {
        if (_writing is { IsCompleted: false })
        {
            return; // one write at a time; the first step after it finishes looks again
        }

        if (_policy.EverySteps > 0 && _stepsSinceWrite >= _policy.EverySteps)
        {
            StartCheckpoint();
        }
        else if (_policy.IntervalMs > 0)
        {
            // At most t after the first unwritten element: checked here while elements flow, by the silo's sweeper
            // once they stop (no timer per sequence).
            var now = System.Diagnostics.Stopwatch.GetTimestamp();
            if (_checkpointDue == 0)
            {
                _checkpointDue = now + (_policy.IntervalMs * System.Diagnostics.Stopwatch.Frequency / 1000);
                services.Sweeper.Register(Id, _checkpointDue);
            }
            else if (now >= _checkpointDue)
            {
                StartCheckpoint();
            }
        }
    }

    /// <summary>A checkpoint that may fail: the state stays applied and dirty, and the next checkpoint tries again.</summary>
    private async Task TryWriteAsync()
    {
        try
        {
            await WriteAsync();
        }
        catch (Exception e)
        {
            LogWriteFailed(services.Logger, e, Id, S.LastN);
        }
    }

    /// <summary>
    /// Writes a copy of the live state. Elements applied while the write is in flight stay dirty for the next one; if
    /// the write fails, everything it carried is dirty again.
    /// </summary>
    private async Task WriteAsync()
    {
        await WaitForCheckpointAsync();
        var n = S.LastN;
        var steps = _stepsSinceWrite;
        var due = _checkpointDue;
        var written = new GrainState<SequenceState>(S.Copy()) { ETag = _etag, RecordExists = _recordExists };
        _dirty = false;
        _stepsSinceWrite = 0;
        _checkpointDue = 0;
        var startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        using var activity = StartCheckpointActivity(n);
        try
        {
            await services.Storage.WriteStateAsync(SequenceServices.StateName, GrainContext.GrainId, written);
            _etag = written.ETag;
            _recordExists = true;
            RnnMetrics.Checkpoint(startedAt, ok: true);
            RnnTracing.Succeeded(activity);
        }
        catch (Exception e)
        {
            RnnMetrics.Checkpoint(startedAt, ok: false);
            _dirty = true;
            _stepsSinceWrite += steps;
            var stale = e is Orleans.Storage.InconsistentStateException || e.InnerException is Orleans.Storage.InconsistentStateException;
            RnnTracing.Failed(activity, e, stale ? "stale" : "failed");
            if (stale)
            {
                // Another activation wrote this sequence (two can briefly coexist while a dead silo's grains move): this
                // one's state is stale. It stops here, without writing again; the next call reads the stored state.
                _stale = true;
                LogStale(services.Logger, Id, n);
                DeactivateOnIdle();
            }

            throw;
        }

        _lastDurableN = n;
        if (due != 0 && _checkpointDue == 0)
        {
            services.Sweeper.Remove(Id);
        }
    }

    private void StartCheckpoint()
    {
        var write = CheckpointInBackgroundAsync();
        _writing = write.IsCompleted ? null : write;
    }

    private async Task CheckpointInBackgroundAsync()
    {
        await TryWriteAsync();
        _writing = null; // a finished write holds nothing: no task kept per idle sequence
    }

    /// <summary>Lets a background checkpoint finish (its failure is already logged and leaves the state dirty).</summary>
    private async Task WaitForCheckpointAsync()
    {
        if (_writing is { } writing)
        {
            await writing;
            _writing = null;
        }
    }

    private Span<double> Slot(long n, int outputSize) =>
        S.RecentOutputs.AsSpan((int)((n - 1) % S.RecentCapacity) * outputSize, outputSize);

    public async Task ReceiveReminder(string reminderName, Orleans.Runtime.TickStatus status)
    {
        if (reminderName != ExpiryReminder)
        {
            return;
        }

        if (S.Model is null || services.Options.ExpireAfter is null)
        {
            var reminder = await this.GetReminder(ExpiryReminder);
            if (reminder is not null)
            {
                await this.UnregisterReminder(reminder);
            }

            return;
        }

        if (DateTimeOffset.UtcNow - S.UpdatedAt >= services.Options.ExpireAfter.Value)
        {
            LogExpired(services.Logger, Id, S.LastN, S.UpdatedAt);
            await EndAsync("expired");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence {Sequence} is pinned to a model that cannot be loaded: {Reason}")]
    private static partial void LogModelMissing(ILogger logger, string sequence, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sequence {Sequence} refused input element {N} from its stream: {Reason}")]
    private static partial void LogStreamInputRefused(ILogger logger, string sequence, long n, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence {Sequence} could not write its state at n={N}")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, string sequence, long n);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence {Sequence} found newer state in storage while writing n={N}; this activation is stale and deactivates")]
    private static partial void LogStale(ILogger logger, string sequence, long n);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sequence {Sequence} expired at n={N} (last element {UpdatedAt:O})")]
    private static partial void LogExpired(ILogger logger, string sequence, long n, DateTimeOffset updatedAt);
}
