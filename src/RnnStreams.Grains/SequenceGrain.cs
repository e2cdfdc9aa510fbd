using Microsoft.Extensions.Logging;
using Orleans.Streams;
using Orleans.Streams.Core;
using RnnStreams.Core;

namespace RnnStreams.Grains;

/// <inheritdoc cref="ISequenceGrain"/>
/// <remarks>
/// Non-reentrant on purpose: one element at a time is the design. Every request validates everything it needs before
/// it changes anything, so a refused request leaves h_t, the counters and the stored outputs exactly as they were.
/// Under <see cref="DurabilityMode.EveryStep"/> an element is acknowledged and published only after its state is
/// written; if the write fails the element is undone and refused.
/// </remarks>
[ImplicitStreamSubscription(RnnConstants.InputNamespace)]
public sealed partial class SequenceGrain(SequenceServices services)
    : Grain, ISequenceGrain, ISequenceCheckpoint, IStreamSubscriptionObserver, IAsyncObserver<SequenceInput>, IRemindable
{
    private const string ExpiryReminder = "expire";

    private RnnModel? _model;
    private DurabilityPolicy _policy = DurabilityPolicy.Default;
    private long _checkpointDue;
    private DateTime _watchedUntil;
    private long _lastDurableN;
    private bool _dirty;
    private int _stepsSinceWrite;

    private string Id => this.GetPrimaryKeyString();

    /// <summary>
    /// The live state. Storage only ever sees a copy made for one write, so a checkpoint can be written while elements go
    /// on being applied, and the live arrays are never read by a storage provider mid-step.
    /// </summary>
    private SequenceState _live = new();

    /// <summary>The stored record's ETag (storage's optimistic concurrency) and whether a record exists.</summary>
    private string? _etag;

    private bool _recordExists;

    /// <summary>Counted in <see cref="RnnMetrics.ActiveSequences"/>.</summary>
    private bool _counted;

    /// <summary>The checkpoint being written in the background, if any: writes go one at a time.</summary>
    private Task? _writing;

    /// <summary>Set when storage holds newer state than this activation (a version conflict): it writes no more.</summary>
    private bool _stale;

    private SequenceState S => _live;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var stored = new GrainState<SequenceState>(new SequenceState());
        await services.Storage.ReadStateAsync(SequenceServices.StateName, GrainContext.GrainId, stored);
        _live = stored.State ?? new SequenceState();
        _etag = stored.ETag;
        _recordExists = stored.RecordExists;
        if (S.Model is not null)
        {
            S.Model = string.Intern(S.Model); // one copy of a model's name for all its sequences
        }

        if (S.Model is not null)
        {
            _policy = services.Options.PolicyFor(S.Model);
            try
            {
                _model = (await services.Models.GetAsync(S.Model, S.ModelVersion)).Model;
            }
            catch (UnknownModelException e)
            {
                // Keep the stored state untouched; every request will report the missing model.
                LogModelMissing(services.Logger, Id, e.Message);
            }
        }

        _lastDurableN = S.LastN;
        RnnMetrics.Activated();
        _counted = true;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_counted)
        {
            _counted = false;
            RnnMetrics.Deactivated();
        }

        await WaitForCheckpointAsync();
        if (S.Model is not null && _dirty && !_stale)
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
    }

    public async Task<SequenceSnapshot> Start(StartRequest request)
    {
        try
        {
            return await StartAsync(request);
        }
        catch (RnnStreamsException e)
        {
            RnnMetrics.Refused(e.Kind);
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
            if (S.Model == request.Model && (request.Version is null || request.Version == S.ModelVersion) && request.InitialState is null && request.InitialCell is null)
            {
                return Snapshot(RequireModel());
            }

            throw new SequenceAlreadyStartedException(Id, S.Model, S.ModelVersion, S.LastN);
        }

        var resolved = await services.Models.GetAsync(request.Model, request.Version);
        var model = resolved.Model;
        var initial = request.InitialState is null && request.InitialCell is null ? null : FlattenInitialState(model, request.InitialState, request.InitialCell);
        await BeginAsync(request.Model, resolved.Version, model, initial?.ToArray() ?? new double[model.StateSize], initial);
        try
        {
            await WriteAsync();
        }
        catch (Exception e) when (e is not RnnStreamsException)
        {
            await AbandonStartAsync(request.Model, resolved.Version);
            throw new RnnStorageException(Id, 0, e.Message);
        }

        return Snapshot(model);
    }

    public async Task<StepResult> Step(long n, double[] x)
    {
        var startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        using var activity = StartStepActivity(RnnTracing.StepActivity, RnnTracing.NTag, n);
        try
        {
            var result = await StepAsync(n, x);
            if (!result.Duplicate)
            {
                RnnMetrics.Applied(1, startedAt, batch: false);
            }

            Stepped(activity, result.ModelVersion, 1, result.Duplicate ? 1 : 0);
            return result;
        }
        catch (RnnStreamsException e)
        {
            RnnMetrics.Refused(e.Kind);
            Refused(activity, e, count: 1);
            throw;
        }
        catch (Exception e)
        {
            RnnTracing.Failed(activity, e);
            throw;
        }
    }

    public async Task<StepBatchResult> StepMany(long firstN, double[] inputs)
    {
        var startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        using var activity = StartStepActivity(RnnTracing.StepManyActivity, RnnTracing.FirstNTag, firstN);
        try
        {
            var result = await StepManyAsync(firstN, inputs);
            if (result.Count > result.Duplicates)
            {
                RnnMetrics.Applied(result.Count - result.Duplicates, startedAt, batch: true);
            }

            Stepped(activity, result.ModelVersion, result.Count, result.Duplicates);
            return result;
        }
        catch (RnnStreamsException e)
        {
            RnnMetrics.Refused(e.Kind);
            Refused(activity, e, count: _model is { } m && inputs is { Length: > 0 } && inputs.Length % m.InputSize == 0 ? inputs.Length / m.InputSize : null);
            throw;
        }
        catch (Exception e)
        {
            RnnTracing.Failed(activity, e);
            throw;
        }
    }

    private async Task<StepResult> StepAsync(long n, double[] x)
    {
        var (name, model, version) = await CurrentOrDefaultModel();
        var stored = Admit(model, n, 1);
        if (stored is not null)
        {
            return new StepResult(n, stored, version, Duplicate: true, DurableN: _lastDurableN);
        }

        CheckInput(model, n, x);
        var y = new double[model.OutputSize];
        await ApplyAsync(name, model, version, n, x, y);
        if (PublishesOutputs)
        {
            await PublishAsync(new SequenceOutput(Id, n, y, version, SentAt: DateTime.UtcNow.Ticks, X: x));
        }

        return new StepResult(n, y, version, DurableN: _lastDurableN);
    }

    private async Task<StepBatchResult> StepManyAsync(long firstN, double[] inputs)
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
                return new StepBatchResult(firstN, count, outputSize, outputs, version, repeated, _lastDurableN);
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

        await ApplyAsync(name, model, version, freshFirstN, fresh, outputs.AsMemory(repeated * outputSize));

        if (PublishesOutputs)
        {
            var now = DateTime.UtcNow.Ticks;
            for (var i = repeated; i < count; i++)
            {
                await PublishAsync(new SequenceOutput(Id, firstN + i, outputs.AsSpan(i * outputSize, outputSize).ToArray(), version, SentAt: now,
                    X: inputs.AsSpan(i * model.InputSize, model.InputSize).ToArray()));
            }
        }
        return new StepBatchResult(firstN, count, outputSize, outputs, version, repeated, _lastDurableN);
    }

    public async Task<SequenceSnapshot> Reset()
    {
        var current = RequireModel();
        var latest = await services.Models.GetAsync(S.Model!, null);
        var model = latest.Model;
        var previousVersion = S.ModelVersion;
        if (latest.Version != previousVersion)
        {
            await services.Models.Usage(S.Model!).Acquire(latest.Version);
        }

        var initial = S.InitialState is { } h0 && h0.Length == model.StateSize ? h0 : null;
        var previous = S.LastN;
        var undo = (S.ModelVersion, S.InitialState, S.Hidden, S.RecentOutputs, S.LastN, S.UpdatedAt, _dirty);
        S.ModelVersion = latest.Version;
        S.InitialState = initial;
        S.Hidden = initial?.ToArray() ?? new double[model.StateSize];
        if (S.RecentOutputs.Length != S.RecentCapacity * model.OutputSize)
        {
            S.RecentOutputs = new double[S.RecentCapacity * model.OutputSize];
        }

        S.LastN = 0;
        S.UpdatedAt = DateTimeOffset.UtcNow;
        _model = model;
        try
        {
            await WriteAsync();
        }
        catch (Exception e) when (e is not RnnStreamsException)
        {
            // Nothing changed: the sequence goes on where it was (a new version's count stays one too high: safe).
            (S.ModelVersion, S.InitialState, S.Hidden, S.RecentOutputs, S.LastN, S.UpdatedAt, _dirty) = undo;
            _model = current;
            throw new RnnStorageException(Id, previous, e.Message);
        }
        if (latest.Version != previousVersion)
        {
            await services.Models.Usage(S.Model!).Release(previousVersion);
        }

        await PublishAsync(new SequenceOutput(Id, previous, [], S.ModelVersion, OutputKind.Reset, "reset"));
        return Snapshot(model);
    }

    public async Task<SequenceSnapshot> Upgrade()
    {
        var current = RequireModel();
        var latest = await services.Models.GetAsync(S.Model!, null);
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
        await services.Models.Usage(S.Model!).Acquire(latest.Version);
        S.ModelVersion = latest.Version;
        _model = latest.Model;
        try
        {
            await WriteAsync();
        }
        catch (Exception e) when (e is not RnnStreamsException)
        {
            S.ModelVersion = previousVersion;
            _model = current;
            throw new RnnStorageException(Id, S.LastN, e.Message);
        }

        await services.Models.Usage(S.Model!).Release(previousVersion);
        await PublishAsync(new SequenceOutput(Id, S.LastN, [], S.ModelVersion, OutputKind.Upgraded, $"upgraded from v{previousVersion}"));
        return Snapshot(latest.Model);
    }

    public Task End() => EndAsync("ended");

    public Task<long> Watch(TimeSpan lease)
    {
        if (lease <= TimeSpan.Zero || lease > TimeSpan.FromDays(1))
        {
            throw new RnnArgumentException("lease", $"must be more than 0 and at most a day, got {lease}");
        }

        var until = DateTime.UtcNow + lease;
        if (until > _watchedUntil)
        {
            _watchedUntil = until;
        }

        return Task.FromResult(S.LastN);
    }

    private bool PublishesOutputs => services.Options.PublishOutputs switch
    {
        OutputPublishing.Always => true,
        OutputPublishing.WhenWatched => DateTime.UtcNow < _watchedUntil,
        _ => false,
    };

    /// <summary>Called by the silo's <see cref="CheckpointSweeper"/> when this sequence stayed dirty past its interval.</summary>
    async Task ISequenceCheckpoint.Checkpoint()
    {
        _checkpointDue = 0;
        if (_dirty && S.Model is not null)
        {
            await TryWriteAsync();
        }
    }

    /// <summary>
    /// Hands applied outputs to the silo's <see cref="OutputPublisher"/>, which publishes them in order without the step
    /// waiting for the stream. The element is applied (and, under EveryStep, stored) before this runs.
    /// </summary>
    private ValueTask PublishAsync(SequenceOutput output) => services.Publisher.EnqueueAsync(output);

    /// <summary>Waits for a checkpoint in flight, so that <c>LastDurableN</c> says what storage holds now.</summary>
    public async Task<SequenceSnapshot> Snapshot()
    {
        var model = RequireModel();
        await WaitForCheckpointAsync();
        return Snapshot(model);
    }

    private async Task EndAsync(string reason)
    {
        if (S.Model is null)
        {
            return;
        }

        var name = S.Model;
        var last = S.LastN;
        var version = S.ModelVersion;
        await WaitForCheckpointAsync();
        var cleared = new GrainState<SequenceState>(new SequenceState()) { ETag = _etag, RecordExists = _recordExists };
        await services.Storage.ClearStateAsync(SequenceServices.StateName, GrainContext.GrainId, cleared);
        _etag = cleared.ETag;
        _recordExists = cleared.RecordExists;
        _live = new SequenceState();
        _model = null;
        _lastDurableN = 0;
        _dirty = false;
        _stepsSinceWrite = 0;
        _checkpointDue = 0;
        services.Sweeper.Remove(Id);
        await services.Models.Usage(name).Release(version);
        if (services.Options.ExpireAfter is not null)
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

    private SequenceSnapshot Snapshot(RnnModel model)
    {
        var hidden = new double[model.LayerCount][];
        for (var k = 0; k < hidden.Length; k++)
        {
            hidden[k] = S.Hidden.AsSpan(k * model.HiddenSize, model.HiddenSize).ToArray();
        }

        double[][]? cell = null;
        if (model.HasCellState)
        {
            cell = new double[model.LayerCount][];
            for (var k = 0; k < cell.Length; k++)
            {
                cell[k] = S.Hidden.AsSpan(model.CellStateOffset + (k * model.HiddenSize), model.HiddenSize).ToArray();
            }
        }

        return new SequenceSnapshot(Id, S.Model!, S.ModelVersion, hidden, S.LastN, _lastDurableN, S.UpdatedAt, _policy.ToString(), cell);
    }

    private RnnModel RequireModel()
    {
        if (S.Model is null)
        {
            throw new SequenceNotStartedException(Id, "call Start or send element 1");
        }

        return _model ?? throw new UnknownModelException(S.Model, S.ModelVersion);
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

        if (from.OutputSize != to.OutputSize)
        {
            problems.Add($"output size {from.OutputSize} → {to.OutputSize}");
        }

        return problems.Count == 0 ? null : string.Join(", ", problems);
    }
}
