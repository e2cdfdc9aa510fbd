using Orleans.Storage;
using RnnStreams.Grains;

namespace RnnStreams.Grains.Tests.Persistence;

/// <summary>
/// Grain storage for <see cref="SequenceState"/> with Redis' ETag rules, whose writes a test can make fail, hang, fail
/// slowly (no answer, as a timeout), hold and release in any order, and whose records it can lose.
/// </summary>
internal sealed class FakeGrainStorage : IGrainStorage
{
    private readonly Lock _lock = new();
    private readonly Dictionary<GrainId, (string ETag, SequenceState State)> _records = [];
    private readonly List<TaskCompletionSource<bool>> _held = [];
    private int _inFlight;

    /// <summary>Reads and writes fail at once (storage answers "no").</summary>
    public bool Refuse { get; set; }

    /// <summary>Reads and writes fail after this long (storage does not answer).</summary>
    public TimeSpan? FailAfter { get; set; }

    /// <summary>Writes wait until <see cref="Release"/>.</summary>
    public bool HoldWrites { get; set; }

    public int Reads { get; private set; }

    public int Writes { get; private set; }

    public int MaxConcurrentWrites { get; private set; }

    public int Held
    {
        get
        {
            lock (_lock)
            {
                return _held.Count;
            }
        }
    }

    public SequenceState? Stored(GrainId id)
    {
        lock (_lock)
        {
            return _records.TryGetValue(id, out var record) ? record.State : null;
        }
    }

    /// <summary>The record vanishes (a Redis restarted without persistence).</summary>
    public void Lose(GrainId id)
    {
        lock (_lock)
        {
            _records.Remove(id);
        }
    }

    /// <summary>Another writer changes the record's ETag.</summary>
    public void Overwrite(GrainId id)
    {
        lock (_lock)
        {
            _records[id] = ("someone-else", _records[id].State);
        }
    }

    /// <summary>Lets held write <paramref name="index"/> (0 = oldest) go on, to succeed or fail.</summary>
    public void Release(int index, bool succeed)
    {
        TaskCompletionSource<bool> gate;
        lock (_lock)
        {
            gate = _held[index];
            _held.RemoveAt(index);
        }

        gate.SetResult(succeed);
    }

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        Reads++;
        await FailIfToldAsync();
        lock (_lock)
        {
            if (_records.TryGetValue(grainId, out var record))
            {
                grainState.State = (T)(object)record.State.Copy();
                grainState.ETag = record.ETag;
                grainState.RecordExists = true;
            }
            else
            {
                grainState.ETag = null;
                grainState.RecordExists = false;
            }
        }
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        Writes++;
        var concurrent = Interlocked.Increment(ref _inFlight);
        MaxConcurrentWrites = Math.Max(MaxConcurrentWrites, concurrent);
        try
        {
            await FailIfToldAsync();
            if (HoldWrites)
            {
                var gate = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                lock (_lock)
                {
                    _held.Add(gate);
                }

                if (!await gate.Task)
                {
                    throw new InvalidOperationException("write failed (held, then failed by the test)");
                }
            }

            lock (_lock)
            {
                var exists = _records.TryGetValue(grainId, out var record);
                if (exists ? record.ETag != grainState.ETag : !string.IsNullOrEmpty(grainState.ETag))
                {
                    throw new InconsistentStateException($"Version conflict: ETag={grainState.ETag}");
                }

                var etag = Guid.NewGuid().ToString("N");
                _records[grainId] = (etag, ((SequenceState)(object)grainState.State!).Copy());
                grainState.ETag = etag;
                grainState.RecordExists = true;
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await FailIfToldAsync();
        lock (_lock)
        {
            var exists = _records.TryGetValue(grainId, out var record);
            if (exists ? record.ETag != grainState.ETag : !string.IsNullOrEmpty(grainState.ETag))
            {
                throw new InconsistentStateException($"Version conflict: ETag={grainState.ETag}");
            }

            _records.Remove(grainId);
            grainState.ETag = null;
            grainState.RecordExists = false;
        }
    }

    private async Task FailIfToldAsync()
    {
        if (FailAfter is { } after)
        {
            await Task.Delay(after);
            throw new TimeoutException($"no answer in {after.TotalMilliseconds} ms");
        }

        if (Refuse)
        {
            throw new InvalidOperationException("storage refused");
        }
    }
}
