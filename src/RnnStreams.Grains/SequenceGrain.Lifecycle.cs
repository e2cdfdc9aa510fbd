using Microsoft.Extensions.Logging;
using RnnStreams.Core;

namespace RnnStreams.Grains;

/// <summary>Start, reset, upgrade, end and expiry: each builds the next state and has the ledger write it before it counts.</summary>
public sealed partial class SequenceGrain
{
    private const string ExpiryReminder = "expire";

    public async Task<SequenceSnapshot> Start(StartRequest request)
    {
        try
        {
            return await StartAsync(request);
        }
        catch (RnnStreamsException e)
        {
            RnnMetrics.Refused(e.Kind);
            _services.Stats.Refused(e.Kind);
            throw;
        }
    }

    private async Task<SequenceSnapshot> StartAsync(StartRequest request)
    {
        if (request is null || string.IsNullOrEmpty(request.Model))
        {
            throw new RnnArgumentException("model", "a model name is required");
        }

        if (S.Model is not null)
        {
            var model = RequireModel();
            if (S.Model == request.Model && (request.Version is null || request.Version == S.ModelVersion) && request.InitialState is null && request.InitialCell is null)
            {
                return Snapshot(model);
            }

            throw new SequenceAlreadyStartedException(Id, S.Model, S.ModelVersion, S.LastN);
        }

        var resolved = await _services.Models.GetAsync(request.Model, request.Version);
        var initial = request.InitialState is null && request.InitialCell is null ? null : FlattenInitialState(resolved.Model, request.InitialState, request.InitialCell);
        var next = NewState(request.Model, resolved.Version, resolved.Model, initial?.ToArray() ?? new double[resolved.Model.StateSize], initial);
        await BeginAsync(next, resolved.Model, () => _ledger.ReplaceAsync(next, "Start"));
        return Snapshot(resolved.Model);
    }

    public async Task<SequenceSnapshot> Reset()
    {
        if (S.Model is null)
        {
            throw new SequenceNotStartedException(Id, "call Start or send element 1");
        }

        if (_ledger.IsStale)
        {
            RequireCurrent();
        }

        // A sequence whose record storage lost is reset like any other: that is how it starts again.
        var latest = await _services.Models.GetAsync(S.Model, null);
        var model = latest.Model;
        var previousVersion = S.ModelVersion;
        var previousN = S.LastN;
        if (latest.Version != previousVersion)
        {
            await _services.Models.Usage(S.Model).Acquire(latest.Version);
        }

        var initial = S.InitialState is { } h0 && h0.Length == model.StateSize ? h0 : null;
        var next = NewState(S.Model, latest.Version, model, initial?.ToArray() ?? new double[model.StateSize], initial, S.RecentCapacity);

        // If the write fails nothing changed (a new version's usage count stays one too high: safe, only harder to delete).
        await _ledger.ReplaceAsync(next, "Reset");
        _model = model;
        if (latest.Version != previousVersion)
        {
            await _services.Models.Usage(S.Model).Release(previousVersion);
        }

        await PublishAsync(new SequenceOutput(Id, previousN, [], S.ModelVersion, OutputKind.Reset, "reset"));
        return Snapshot(model);
    }

    public async Task<SequenceSnapshot> Upgrade()
    {
        var current = RequireModel();
        var latest = await _services.Models.GetAsync(S.Model!, null);
        if (latest.Version == S.ModelVersion)
        {
            return Snapshot(current);
        }

        var problem = Incompatibility(current, latest.Model);
        if (problem is not null)
        {
            throw new IncompatibleModelException(Id, S.Model!, S.ModelVersion, latest.Version, problem);
        }

        var previousVersion = S.ModelVersion;
        await _services.Models.Usage(S.Model!).Acquire(latest.Version);
        var next = S.Copy();
        next.ModelVersion = latest.Version;
        await _ledger.ReplaceAsync(next, "Upgrade");
        _model = latest.Model;
        await _services.Models.Usage(S.Model!).Release(previousVersion);
        await PublishAsync(new SequenceOutput(Id, S.LastN, [], S.ModelVersion, OutputKind.Upgraded, $"upgraded from v{previousVersion}"));
        return Snapshot(latest.Model);
    }

    public Task End() => EndAsync("ended");

    /// <summary>Deletes the record (a lost sequence too), releases the model version and the reminder, then deactivates.</summary>
    private async Task EndAsync(string reason)
    {
        if (S.Model is null)
        {
            return;
        }

        var name = S.Model;
        var last = S.LastN;
        var version = S.ModelVersion;
        await _ledger.ClearAsync();
        _model = null;
        try
        {
            await _services.Models.Usage(name).Release(version);
        }
        catch (Exception e)
        {
            LogReleaseFailed(_services.Logger, e, Id); // the count stays one too high: safe, the version is only harder to delete
        }

        if (_services.Options.ExpireAfter is not null)
        {
            var reminder = await this.GetReminder(ExpiryReminder);
            if (reminder is not null)
            {
                await this.UnregisterReminder(reminder);
            }
        }

        await PublishAsync(new SequenceOutput(Id, last, [], version, OutputKind.Ended, reason));
        DeactivateOnIdle();
    }

    public async Task ReceiveReminder(string reminderName, Orleans.Runtime.TickStatus status)
    {
        if (reminderName != ExpiryReminder)
        {
            return;
        }

        if (S.Model is null || _services.Options.ExpireAfter is null)
        {
            var reminder = await this.GetReminder(ExpiryReminder);
            if (reminder is not null)
            {
                await this.UnregisterReminder(reminder);
            }

            return;
        }

        if (DateTimeOffset.UtcNow - S.UpdatedAt >= _services.Options.ExpireAfter.Value)
        {
            LogExpired(_services.Logger, Id, S.LastN, S.UpdatedAt);
            await EndAsync("expired");
        }
    }

    /// <summary>
    /// A new sequence's first state, pinned to a model version: <paramref name="hidden"/> as it is for a float64 model,
    /// rounded once to floats for a float32 one.
    /// </summary>
    private SequenceState NewState(string name, int version, RnnModel model, double[] hidden, double[]? initial, int capacity = 0)
    {
        capacity = capacity > 0 ? capacity : Math.Max(1, _services.Options.KeepOutputs);
        var float32 = model.Precision == ModelPrecision.Float32;
        return new SequenceState
        {
            Model = string.Intern(name), // one copy of a model's name for all its sequences
            ModelVersion = version,
            Hidden = float32 ? [] : hidden,
            Hidden32 = float32 ? Array.ConvertAll(hidden, v => (float)v) : null,
            InitialState = initial,
            LastN = 0,
            UpdatedAt = DateTimeOffset.UtcNow,
            RecentCapacity = capacity,
            RecentOutputs = new double[capacity * model.OutputSize],
        };
    }

    /// <summary>
    /// Starts a sequence once everything about the request is valid: counts it as a user of its version first (so a crash
    /// can only over-count), arms the expiry reminder when expiry is on, then has <paramref name="commit"/> write the first
    /// state; if that fails the count is given back and the sequence has not started.
    /// </summary>
    private async Task BeginAsync(SequenceState first, RnnModel model, Func<Task> commit)
    {
        try
        {
            await _services.Models.Usage(first.Model!).Acquire(first.ModelVersion);
            if (_services.Options.ExpireAfter is { } expire)
            {
                // One tick per expiry period: a sequence silent since its last element ends between ExpireAfter and twice
                // that, and an idle one is not kept active (each tick is a call that wakes it).
                var period = _services.Options.ExpiryCheckPeriod ?? TimeSpan.FromTicks(Math.Max(TimeSpan.FromMinutes(1).Ticks, expire.Ticks));
                await this.RegisterOrUpdateReminder(ExpiryReminder, period, period);
            }
        }
        catch (Exception e) when (e is not RnnStreamsException)
        {
            throw new RnnStorageException(Id, 0, $"could not register the sequence: {e.Message}");
        }

        try
        {
            await commit();
        }
        catch (RnnStorageException)
        {
            try
            {
                await _services.Models.Usage(first.Model!).Release(first.ModelVersion);
            }
            catch (Exception e)
            {
                LogReleaseFailed(_services.Logger, e, Id); // the count stays one too high: safe, the version is only harder to delete
            }

            throw;
        }

        _model = model;
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

    private static string? Incompatibility(RnnModel from, RnnModel to)
    {
        var problems = new List<string>();
        if (from.Cell != to.Cell)
        {
            problems.Add($"cell {from.Cell.ToFileName()} → {to.Cell.ToFileName()}");
        }

        if (from.InputSize != to.InputSize)
        {
            problems.Add($"input size {from.InputSize} → {to.InputSize}");
        }

        if (from.StateSize != to.StateSize || from.HiddenSize != to.HiddenSize)
        {
            problems.Add($"state {from.LayerCount}×{from.HiddenSize} → {to.LayerCount}×{to.HiddenSize}");
        }

        if (from.Precision != to.Precision)
        {
            problems.Add($"dtype {from.Precision.ToFileName()} → {to.Precision.ToFileName()}");
        }

        if (from.OutputSize != to.OutputSize)
        {
            problems.Add($"output size {from.OutputSize} → {to.OutputSize}");
        }

        return problems.Count == 0 ? null : string.Join(", ", problems);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Sequence {Sequence} expired at n={N} (last element {UpdatedAt:O})")]
    private static partial void LogExpired(ILogger logger, string sequence, long n, DateTimeOffset updatedAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence {Sequence} could not give back its model version's usage count (it did not start, or it ended)")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, string sequence);
}
