using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Storage;

namespace RnnStreams.Grains;

/// <summary>
/// One sequence's state and its stored record: the only code that reads or writes a sequence's storage. Every change
/// takes one path — prepare the next state, write it (ETag-checked), then swap it in, or drop it if the write failed —
/// so a refused request never needs undoing. Elements are the one exception the durability policy allows: under
/// <c>Checkpoint(k, t)</c> and <c>None</c> they are stepped into the live state and written later, within the policy's
/// bound.
/// </summary>
/// <remarks>
/// <para>The policy's bound holds during an outage: under <c>Checkpoint(k, t)</c> a write starts (in the background)
/// once k/2 elements are unwritten or shortly before the oldest unwritten one is t old (see <see cref="WriteLeadMs"/>),
/// and an element that would leave more than k elements, or an element older
/// than t, unwritten is written before it is acknowledged — refused with <see cref="RnnErrorKind.Storage"/> when that
/// fails. So a crash rolls back at most k elements and t of them, whatever storage does.</para>
/// <para>A version conflict means another writer: if the record still exists another activation owns the sequence
/// (this one is stale and deactivates); if it is gone, storage lost it and the sequence says so
/// (<see cref="StateLostException"/>) instead of starting again at element 1.</para>
/// </remarks>
internal sealed partial class SequenceLedger(GrainId grainId, SequenceServices services)
{
    private bool _swept; // registered with the silo's sweeper for a timed checkpoint
    private string? _etag;
    private bool _recordExists;
    private Task? _writing;
    private long _firstUnwrittenAt; // Stopwatch timestamp of the oldest unwritten element not in the write in flight; 0 = none
    private long _inFlightSince; // the same for the elements of the write in flight

    private string Id => grainId.Key.ToString()!;

    /// <summary>The live state: what the sequence answers from.</summary>
    public SequenceState Live { get; private set; } = new();

    /// <summary>The last element storage holds.</summary>
    public long DurableN { get; private set; }

    /// <summary>When the sequence's state is written.</summary>
    public DurabilityPolicy Policy { get; private set; } = DurabilityPolicy.Default;

    /// <summary>Set when storage holds newer state than this activation: it writes no more and should deactivate.</summary>
    public bool IsStale { get; private set; }

    /// <summary>Elements acknowledged that storage does not hold.</summary>
    public long Unwritten => Live.LastN - DurableN;

    /// <summary>Reads the stored record (activation).</summary>
    /// <exception cref="RnnStorageException">Storage could not be read.</exception>
    public async Task ReadAsync()
    {
        var stored = new GrainState<SequenceState>(new SequenceState());
        try
        {
            await services.Circuit.RunAsync(() => services.Storage.ReadStateAsync(SequenceServices.StateName, grainId, stored));
        }
        catch (Exception e) when (e is not RnnStreamsException)
        {
            throw RnnStorageException.Unreadable(Id, e.GetBaseException().Message);
        }

        var state = stored.State ?? new SequenceState();
        if (state.Model is not null)
        {
            state.Model = string.Intern(state.Model); // one copy of a model's name for all its sequences
            Policy = services.Options.PolicyFor(state.Model);
        }

        Live = state;
        _etag = stored.ETag;
        _recordExists = stored.RecordExists;
        DurableN = state.LastN;
    }

    /// <summary>
    /// The state to step <paramref name="count"/> more elements into: the live state when the policy lets them be
    /// acknowledged before they are written, else a copy, which <see cref="CommitAsync"/> writes before it replaces the
    /// live state.
    /// </summary>
    public async ValueTask<SequenceState> DraftAsync(int count)
    {
        if (MustWrite(count))
        {
            await SettleAsync(); // a write in flight may bring the bound back within reach
            if (MustWrite(count))
            {
                return Live.Copy();
            }
        }

        return Live;
    }

    /// <summary>
    /// Makes <paramref name="next"/> (from <see cref="DraftAsync"/>, or a new sequence's first state) the live state,
    /// with its elements up to <see cref="SequenceState.LastN"/> applied: written first when it is not the live state.
    /// </summary>
    /// <exception cref="RnnStorageException">The write failed: the live state is as it was.</exception>
    /// <exception cref="StateLostException">Storage lost the sequence's record.</exception>
    public async Task CommitAsync(SequenceState next, long firstN)
    {
        if (!ReferenceEquals(next, Live) || Policy.Mode == DurabilityMode.EveryStep)
        {
            await ReplaceAsync(next, e => new RnnStorageException(Id, firstN, e));
            return;
        }

        if (_firstUnwrittenAt == 0)
        {
            _firstUnwrittenAt = Stopwatch.GetTimestamp();
            if (Policy.Mode == DurabilityMode.Checkpoint && _writing is null)
            {
                Sweep(SweepDue());
            }
        }

        if (Policy.Mode == DurabilityMode.Checkpoint && _writing is null && CheckpointDue())
        {
            StartCheckpoint();
        }
    }

    /// <summary>Writes <paramref name="next"/> (a start, reset or upgrade) and makes it the live state.</summary>
    /// <exception cref="RnnStorageException">The write failed: nothing changed.</exception>
    public Task ReplaceAsync(SequenceState next, string what) =>
        ReplaceAsync(next, e => RnnStorageException.NotChanged(Id, Live.LastN, what, e));

    /// <summary>Deletes the record (End): the sequence is as if it never started.</summary>
    public async Task ClearAsync()
    {
        await SettleAsync();
        var cleared = new GrainState<SequenceState>(new SequenceState()) { ETag = _etag, RecordExists = _recordExists };
        try
        {
            await services.Circuit.RunAsync(() => services.Storage.ClearStateAsync(SequenceServices.StateName, grainId, cleared));
        }
        catch (Exception e) when (e is not RnnStreamsException)
        {
            await FailedAsync(e);
            throw RnnStorageException.NotChanged(Id, Live.LastN, "End", e.GetBaseException().Message);
        }

        _etag = cleared.ETag;
        _recordExists = cleared.RecordExists;
        Live = new SequenceState();
        DurableN = 0;
        _firstUnwrittenAt = 0;
        Unswept();
    }

    /// <summary>Writes what is unwritten now (the sweeper's timed checkpoint, deactivation); a failure is logged.</summary>
    /// <returns>Whether storage holds every applied element.</returns>
    public async Task<bool> FlushAsync()
    {
        await SettleAsync();
        if (Unwritten > 0 && !IsStale && Live.Model is not null)
        {
            StartCheckpoint();
            await SettleAsync();
        }

        return Unwritten == 0;
    }

    /// <summary>The activation is going away: the sweeper must not wake it again for what it could not write.</summary>
    public void Leave() => Unswept();

    /// <summary>Lets a write in flight finish (a failed one is logged and leaves its elements unwritten).</summary>
    public async ValueTask SettleAsync()
    {
        if (_writing is { } writing)
        {
            await writing;
        }
    }

    private bool MustWrite(int count) => Policy.Mode switch
    {
        DurabilityMode.EveryStep => true,
        DurabilityMode.Checkpoint =>
            (Policy.EverySteps > 0 && Unwritten + count > Policy.EverySteps)
            || (Policy.IntervalMs > 0 && OldestUnwritten() is var oldest && oldest != 0 && Stopwatch.GetTimestamp() - oldest > TicksOf(Policy.IntervalMs)),
        _ => false,
    };

    private long OldestUnwritten() => _inFlightSince != 0 ? _inFlightSince : _firstUnwrittenAt;

    /// <summary>
    /// Half of k reached, or the oldest unwritten element is within <see cref="WriteLeadMs"/> of t: a write started now
    /// usually lands before an element has to wait for one.
    /// </summary>
    private bool CheckpointDue() =>
        (Policy.EverySteps > 0 && Unwritten >= (Policy.EverySteps + 1) / 2)
        || (Policy.IntervalMs > 0 && _firstUnwrittenAt != 0 && Stopwatch.GetTimestamp() - _firstUnwrittenAt >= TicksOf(TimedWriteAfterMs));

    /// <summary>
    /// How long before t a timed write starts: the sweeper looks every 100 ms and a write takes milliseconds, so 150 ms
    /// (at most t/2) lets it land before t. Starting at t/2 instead wrote a sequence that steps about once per t/2 at
    /// every element (measured in bench: rpc 3× slower, 4× the allocation per step).
    /// </summary>
    private const int WriteLeadMs = 150;

    private int TimedWriteAfterMs => Policy.IntervalMs - Math.Min(Policy.IntervalMs / 2, WriteLeadMs);

    private async Task ReplaceAsync(SequenceState next, Func<string, RnnStorageException> refusal)
    {
        await SettleAsync();
        var record = new GrainState<SequenceState>(next) { ETag = _etag, RecordExists = _recordExists };
        var startedAt = Stopwatch.GetTimestamp();
        using var activity = RnnTracing.StartCheckpoint(grainId, next);
        try
        {
            await services.Circuit.RunAsync(() => services.Storage.WriteStateAsync(SequenceServices.StateName, grainId, record));
        }
        catch (Exception e) when (e is not RnnStreamsException)
        {
            RnnMetrics.Checkpoint(startedAt, ok: false);
            RnnTracing.Failed(activity, e, StorageCircuit.IsConflict(e) ? "conflict" : "failed");
            await FailedAsync(e);
            throw refusal(e.GetBaseException().Message);
        }

        RnnMetrics.Checkpoint(startedAt, ok: true);
        RnnTracing.Succeeded(activity);
        _etag = record.ETag;
        _recordExists = true;
        if (next.Model is { } model && !ReferenceEquals(model, Live.Model))
        {
            Policy = services.Options.PolicyFor(model);
        }

        Live = next;
        DurableN = next.LastN;
        _firstUnwrittenAt = 0;
        Unswept();
    }

    private void StartCheckpoint()
    {
        var write = CheckpointAsync();
        _writing = write.IsCompleted ? null : write;
    }

    /// <summary>Writes a copy of the live state while elements go on being applied to it.</summary>
    private async Task CheckpointAsync()
    {
        var copy = Live.Copy();
        var record = new GrainState<SequenceState>(copy) { ETag = _etag, RecordExists = _recordExists };
        _inFlightSince = _firstUnwrittenAt;
        _firstUnwrittenAt = 0;
        Unswept();
        var startedAt = Stopwatch.GetTimestamp();
        using var activity = RnnTracing.StartCheckpoint(grainId, copy);
        try
        {
            await services.Circuit.RunAsync(() => services.Storage.WriteStateAsync(SequenceServices.StateName, grainId, record));
            RnnMetrics.Checkpoint(startedAt, ok: true);
            RnnTracing.Succeeded(activity);
            _etag = record.ETag;
            _recordExists = true;
            DurableN = copy.LastN;
            _inFlightSince = 0;
            if (_firstUnwrittenAt != 0)
            {
                Sweep(SweepDue());
            }
        }
        catch (Exception e)
        {
            RnnMetrics.Checkpoint(startedAt, ok: false);
            RnnTracing.Failed(activity, e, StorageCircuit.IsConflict(e) ? "conflict" : "failed");
            _firstUnwrittenAt = _inFlightSince != 0 ? _inFlightSince : _firstUnwrittenAt;
            _inFlightSince = 0;
            if (!StorageCircuit.IsConflict(e))
            {
                if (e is not StorageUnavailableException) // the circuit logged the outage once; this would be once per sequence
                {
                    LogCheckpointFailed(services.Logger, Id, DurableN, Live.LastN, e.GetBaseException().Message);
                }

                // Try again once storage may answer: the elements stay acknowledged, so they must reach storage soon.
                Sweep(Stopwatch.GetTimestamp() + TicksOf((int)services.Options.StorageRetryInterval.TotalMilliseconds));
            }

            await FailedAsync(e);
        }
        finally
        {
            _writing = null; // a finished write holds nothing: no task kept per idle sequence
        }
    }

    /// <summary>
    /// After a failed write: a version conflict means another writer (this activation is stale) or a lost record (the
    /// sequence is marked lost, in storage too when it can be).
    /// </summary>
    private async Task FailedAsync(Exception e)
    {
        if (!StorageCircuit.IsConflict(e))
        {
            return;
        }

        var stored = new GrainState<SequenceState>(new SequenceState());
        try
        {
            await services.Circuit.RunAsync(() => services.Storage.ReadStateAsync(SequenceServices.StateName, grainId, stored));
        }
        catch (Exception)
        {
            stored.ETag = "unknown"; // cannot tell: treat as another writer (the safe side: this activation writes no more)
        }

        if (stored.ETag is not null || !_recordExists)
        {
            IsStale = true;
            LogStale(services.Logger, Id, Live.LastN);
            return;
        }

        var lastN = Live.LastN;
        var tombstone = Live.Copy();
        tombstone.Lost = true;
        Live = tombstone;
        DurableN = lastN; // nothing more to write: the mark holds what this activation had
        _firstUnwrittenAt = 0;
        Unswept();
        LogLost(services.Logger, Id, lastN);
        var record = new GrainState<SequenceState>(tombstone) { ETag = null, RecordExists = false };
        try
        {
            await services.Circuit.RunAsync(() => services.Storage.WriteStateAsync(SequenceServices.StateName, grainId, record));
            _etag = record.ETag;
            _recordExists = true;
        }
        catch (Exception written)
        {
            // The mark stays in this activation only; a later activation finds no record and starts at element 1.
            LogWriteFailed(services.Logger, written, Id, lastN);
            _etag = null;
            _recordExists = false;
        }

        throw new StateLostException(Id, lastN);
    }

    /// <summary>
    /// When the sweeper should write the unwritten elements if no step does first: shortly before t after the oldest;
    /// never with no interval (the sweeper still knows the sequence, to write it when the silo stops).
    /// </summary>
    private long SweepDue() => Policy.IntervalMs > 0 ? _firstUnwrittenAt + TicksOf(TimedWriteAfterMs) : long.MaxValue;

    private void Sweep(long dueTimestamp)
    {
        services.Sweeper.Register(Id, dueTimestamp);
        _swept = true;
    }

    private void Unswept()
    {
        if (_swept)
        {
            services.Sweeper.Remove(Id);
            _swept = false;
        }
    }

    private static long TicksOf(int milliseconds) => milliseconds * Stopwatch.Frequency / 1000;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence {Sequence}: checkpoint failed ({Reason}); storage holds n={DurableN} of {LastN}")]
    private static partial void LogCheckpointFailed(ILogger logger, string sequence, long durableN, long lastN, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence {Sequence} could not write its state at n={N}")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, string sequence, long n);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence {Sequence} found newer state in storage while writing n={N}; this activation is stale and deactivates")]
    private static partial void LogStale(ILogger logger, string sequence, long n);

    [LoggerMessage(Level = LogLevel.Error, Message = "Sequence {Sequence}: storage lost its record (it was at n={N}); it refuses elements with StateLost until it is reset or ended")]
    private static partial void LogLost(ILogger logger, string sequence, long n);
}
