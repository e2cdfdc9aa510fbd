using Microsoft.Extensions.Logging;
using Orleans.Streams;
using Orleans.Streams.Core;
using RnnStreams.Core;

namespace RnnStreams.Grains;

/// <inheritdoc cref="ISequenceGrain"/>
/// <remarks>
/// Non-reentrant on purpose: one element at a time is the design. An element goes validate → dedup → step → persist →
/// publish (<c>SequenceGrain.Elements.cs</c>); start, reset, upgrade, end and expiry are in
/// <c>SequenceGrain.Lifecycle.cs</c>; the stored record, its ETag and the durability policy are the
/// <see cref="SequenceLedger"/>'s alone. Every request validates everything before it changes anything and the ledger
/// swaps a new state in only once it is written (where the policy says it must be), so a refused request leaves h_t,
/// the counters and the stored outputs exactly as they were.
/// </remarks>
[ImplicitStreamSubscription(RnnConstants.InputNamespace)]
public sealed partial class SequenceGrain
    : Grain, ISequenceGrain, ISequenceCheckpoint, IStreamSubscriptionObserver, IAsyncObserver<SequenceInput>, IRemindable
{
    private readonly SequenceServices _services;
    private readonly SequenceLedger _ledger;

    /// <summary>The model the sequence is pinned to, loaded on activation; null before it starts (or if it cannot be loaded).</summary>
    private RnnModel? _model;

    private DateTime _watchedUntil;

    /// <summary>This sequence's place in the silo's <see cref="StepBatcher"/>, made at its first batched element and reused.</summary>
    private StepBatcher.Request? _batchRequest;

    /// <summary>The one element's time a <see cref="StepAt"/> passes to the kernel (reused: a grain runs one call at a time).</summary>
    private long[]? _time;

    /// <summary>Counted in <see cref="RnnMetrics.ActiveSequences"/>.</summary>
    private bool _counted;

    public SequenceGrain(SequenceServices services)
    {
        _services = services;
        _ledger = new SequenceLedger(GrainContext.GrainId, services);
    }

    private string Id => this.GetPrimaryKeyString();

    private SequenceState S => _ledger.Live;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await _ledger.ReadAsync();
        if (S.Model is not null)
        {
            // Reactivated from storage: a watcher's lease, taken by an activation before this one, goes on until it
            // ends or is renewed here, so the watcher misses nothing.
            _watchedUntil = S.WatchedUntil;
            try
            {
                _model = (await _services.Models.GetAsync(S.Model, S.ModelVersion)).Model;
            }
            catch (UnknownModelException e)
            {
                // Keep the stored state untouched; every request will report the missing model.
                LogModelMissing(_services.Logger, Id, e.Message);
            }
        }

        RnnMetrics.Activated();
        _services.Stats.Activated();
        _counted = true;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_counted)
        {
            _counted = false;
            RnnMetrics.Deactivated();
            _services.Stats.Deactivated();
        }

        var written = await _ledger.FlushAsync();
        _ledger.Leave();
        if (!written && !_ledger.IsStale)
        {
            // Storage is failing (the circuit is open) or refused: what it does not hold is lost with this activation.
            RnnMetrics.LostOnDeactivation(_ledger.Unwritten);
            LogUnwrittenOnDeactivation(_services.Logger, Id, _ledger.DurableN + 1, S.LastN, reason.Description);
        }
    }

    public Task<StepResult> Step(long n, double[] x) => StepAt(n, x, default);

    public Task<StepBatchResult> StepMany(long firstN, double[] inputs) => StepManyAt(firstN, inputs, null);

    public async Task<StepResult> StepAt(long n, double[] x, DateTime time)
    {
        var startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        using var activity = StartStepActivity(RnnTracing.StepActivity, RnnTracing.NTag, n);
        try
        {
            var result = await StepAsync(n, x, time.Ticks);
            if (!result.Duplicate)
            {
                RnnMetrics.Applied(1, startedAt, batch: false);
                _services.Stats.Applied(1, System.Diagnostics.Stopwatch.GetElapsedTime(startedAt));
            }

            Stepped(activity, result.ModelVersion, 1, result.Duplicate ? 1 : 0);
            return result;
        }
        catch (RnnStreamsException e)
        {
            Refusing(e);
            Refused(activity, e, count: 1);
            throw;
        }
        catch (Exception e)
        {
            RnnTracing.Failed(activity, e);
            throw;
        }
    }

    public async Task<StepBatchResult> StepManyAt(long firstN, double[] inputs, DateTime[]? times)
    {
        var startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        using var activity = StartStepActivity(RnnTracing.StepManyActivity, RnnTracing.FirstNTag, firstN);
        try
        {
            var result = await StepManyAsync(firstN, inputs, times);
            if (result.Count > result.Duplicates)
            {
                RnnMetrics.Applied(result.Count - result.Duplicates, startedAt, batch: true);
                _services.Stats.Applied(result.Count - result.Duplicates, System.Diagnostics.Stopwatch.GetElapsedTime(startedAt));
            }

            Stepped(activity, result.ModelVersion, result.Count, result.Duplicates);
            return result;
        }
        catch (RnnStreamsException e)
        {
            Refusing(e);
            Refused(activity, e, count: _model is { } m && inputs is { Length: > 0 } && inputs.Length % m.InputSize == 0 ? inputs.Length / m.InputSize : null);
            throw;
        }
        catch (Exception e)
        {
            RnnTracing.Failed(activity, e);
            throw;
        }
    }

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
            if (S.Model is not null)
            {
                S.WatchedUntil = until; // written with the state's next write, as the policy says
            }
        }

        return Task.FromResult(S.LastN);
    }

    public Task<RecentOutputs> Recent(long afterN)
    {
        var model = RequireModel();
        var last = S.LastN;
        var oldest = last - Math.Min(S.RecentCapacity, last) + 1;
        var first = Math.Max(afterN + 1, oldest);
        var count = (int)Math.Max(0, last - first + 1);
        var outputSize = model.OutputSize;
        var outputs = new double[count * outputSize];
        for (var i = 0; i < count; i++)
        {
            Slot(S, first + i, outputSize).CopyTo(outputs.AsSpan(i * outputSize, outputSize));
        }

        return Task.FromResult(new RecentOutputs(count == 0 ? last + 1 : first, count, outputSize, outputs, S.ModelVersion, last, oldest));
    }

    /// <summary>Waits for a checkpoint in flight, so that <c>LastDurableN</c> says what storage holds now.</summary>
    public async Task<SequenceSnapshot> Snapshot()
    {
        var model = RequireModel();
        await _ledger.SettleAsync();
        return Snapshot(model);
    }

    /// <summary>Called by the silo's <see cref="CheckpointSweeper"/> when this sequence was about to stay unwritten for its interval.</summary>
    async Task<long> ISequenceCheckpoint.Checkpoint() => await _ledger.FlushAsync() || _ledger.IsStale ? 0 : _ledger.Unwritten;

    private bool PublishesOutputs => _services.Options.PublishOutputs switch
    {
        OutputPublishing.Always => true,
        OutputPublishing.WhenWatched => DateTime.UtcNow < _watchedUntil,
        _ => false,
    };

    /// <summary>
    /// Hands an event (reset, upgraded, ended, refused input) to the silo's <see cref="OutputPublisher"/>, which
    /// publishes it in order without the call waiting for the stream, and to the <see cref="IOutputSink"/> if any.
    /// </summary>
    private async ValueTask PublishAsync(SequenceOutput output)
    {
        await _services.Publisher.EnqueueAsync(output);
        if (_services.Sink is { } sink)
        {
            await sink.PublishAsync(output);
        }
    }

    /// <summary>
    /// Hands an applied element's output over: to the output stream when <see cref="PublishesOutputs"/> says so, and to
    /// the <see cref="IOutputSink"/> always. The element is applied (and stored as the policy says) before this runs.
    /// </summary>
    private async ValueTask PublishStepAsync(SequenceOutput output, bool toStream)
    {
        if (toStream)
        {
            await _services.Publisher.EnqueueAsync(output);
        }

        if (_services.Sink is { } sink)
        {
            await sink.PublishAsync(output);
        }
    }

    private SequenceSnapshot Snapshot(RnnModel model)
    {
        var hidden = new double[model.LayerCount][];
        for (var k = 0; k < hidden.Length; k++)
        {
            hidden[k] = S.StateSlice(k * model.HiddenSize, model.HiddenSize);
        }

        double[][]? cell = null;
        if (model.HasCellState)
        {
            cell = new double[model.LayerCount][];
            for (var k = 0; k < cell.Length; k++)
            {
                cell[k] = S.StateSlice(model.CellStateOffset + (k * model.HiddenSize), model.HiddenSize);
            }
        }

        return new SequenceSnapshot(Id, S.Model!, S.ModelVersion, hidden, S.LastN, _ledger.DurableN, S.UpdatedAt, _ledger.Policy.ToString(), cell);
    }

    /// <summary>
    /// The pinned model of a running sequence. Refuses a sequence that has not started, whose record storage lost, or
    /// whose activation found newer state in storage (it deactivates; the caller's retry reads that state).
    /// </summary>
    private RnnModel RequireModel()
    {
        if (S.Model is null)
        {
            throw new SequenceNotStartedException(Id, "call Start or send element 1");
        }

        RequireCurrent();
        return _model ?? throw new UnknownModelException(S.Model, S.ModelVersion);
    }

    /// <summary>Counts a refusal; an activation that found newer state in storage leaves, so the retry reads that state.</summary>
    private void Refusing(RnnStreamsException refusal)
    {
        RnnMetrics.Refused(refusal.Kind);
        _services.Stats.Refused(refusal.Kind);
        if (_ledger.IsStale)
        {
            DeactivateOnIdle();
        }
    }

    /// <summary>Refuses when the sequence's record was lost or this activation is stale.</summary>
    private void RequireCurrent()
    {
        if (S.Lost)
        {
            throw new StateLostException(Id, S.LastN);
        }

        if (_ledger.IsStale)
        {
            DeactivateOnIdle();
            throw new RnnStorageException(Id, S.LastN + 1, "another activation of this sequence wrote newer state; this one is leaving");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence {Sequence} is pinned to a model that cannot be loaded: {Reason}")]
    private static partial void LogModelMissing(ILogger logger, string sequence, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence {Sequence} deactivated ({Reason}) with elements {FirstN}..{LastN} acknowledged but not written: storage is failing, they are lost")]
    private static partial void LogUnwrittenOnDeactivation(ILogger logger, string sequence, long firstN, long lastN, string? reason);
}
