using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Storage;
using RnnStreams.Grains;

namespace RnnStreams.Grains.Tests.Persistence;

/// <summary>
/// The ledger alone, without a cluster, against a storage that fails, hangs, loses and holds writes: whatever storage
/// does, the live state changes only when the policy allows it, never more than k elements are acknowledged unwritten,
/// a lost record is reported as such, and writes never overlap.
/// </summary>
public class SequenceLedgerTests
{
    private const string EveryStep = "every";
    private const string Checkpoint = "checkpoint";
    private const int K = 4;

    private readonly FakeGrainStorage _storage = new();
    private readonly GrainId _id = GrainId.Create("sequence", Guid.NewGuid().ToString("N"));
    private readonly SequenceLedger _ledger;

    public SequenceLedgerTests()
    {
        var options = Options.Create(new RnnStreamsOptions { Durability = "None", StorageRetryInterval = TimeSpan.FromMilliseconds(300) });
        options.Value.ModelDurability[EveryStep] = "EveryStep";
        options.Value.ModelDurability[Checkpoint] = $"Checkpoint({K}, 0)";
        var provider = new ServiceCollection().AddKeyedSingleton<IGrainStorage>(RnnConstants.Storage, _storage).BuildServiceProvider();
        var services = new SequenceServices(
            provider,
            models: null!,
            publisher: null!,
            batcher: null!,
            new CheckpointSweeper(null!, NullLogger<CheckpointSweeper>.Instance),
            new StorageCircuit(provider, options, NullLogger<StorageCircuit>.Instance),
            new SiloStatsCollector(TimeProvider.System),
            options,
            NullLogger<SequenceGrain>.Instance);
        _ledger = new SequenceLedger(_id, services);
    }

    private static SequenceState First(string model) => new()
    {
        Model = model,
        ModelVersion = 1,
        Hidden = [0, 0],
        RecentCapacity = 4,
        RecentOutputs = new double[4],
    };

    /// <summary>One element as the grain applies it: drafted, changed, committed.</summary>
    private async Task StepAsync(double x)
    {
        var draft = await _ledger.DraftAsync(1);
        var n = draft.LastN + 1;
        draft.Hidden[0] += x;
        draft.Hidden[1] = n;
        draft.RecentOutputs[(n - 1) % 4] = x;
        draft.LastN = n;
        await _ledger.CommitAsync(draft, n);
    }

    private async Task StartAsync(string model)
    {
        await _ledger.ReadAsync();
        await _ledger.ReplaceAsync(First(model), "Start");
    }

    [Fact]
    public async Task EveryStep_WriteFails_LiveStateIsUnchanged_AndTheRetryIsApplied()
    {
        await StartAsync(EveryStep);
        await StepAsync(1);
        var before = _ledger.Live;
        var hidden = before.Hidden.ToArray();

        _storage.Refuse = true;
        var refused = await Assert.ThrowsAsync<RnnStorageException>(() => StepAsync(10));
        Assert.Equal(2, refused.N);
        Assert.Same(before, _ledger.Live);
        Assert.Equal(hidden, _ledger.Live.Hidden);
        Assert.Equal((1L, 1L), (_ledger.Live.LastN, _ledger.DurableN));

        _storage.Refuse = false;
        await StepAsync(10);
        Assert.Equal((2L, 2L), (_ledger.Live.LastN, _ledger.DurableN));
        Assert.Equal([11, 2], _storage.Stored(_id)!.Hidden);
    }

    [Fact]
    public async Task Checkpoint_AcknowledgesUpToKUnwritten_ThenWaitsForTheWriteInFlight()
    {
        await StartAsync(Checkpoint);
        _storage.HoldWrites = true;
        for (var n = 1; n <= K; n++)
        {
            await StepAsync(n); // the write of element 2 (half the bound) is held; nobody waits for it
        }

        Assert.Equal((4L, 0L, 1), (_ledger.Live.LastN, _ledger.DurableN, _storage.Held));
        var fifth = StepAsync(5);
        Assert.False(fifth.IsCompleted); // five unwritten would break the bound: it waits for the write in flight

        _storage.Release(0, succeed: true);
        await fifth;
        Assert.Equal((5L, 2L), (_ledger.Live.LastN, _ledger.DurableN));
        Assert.Equal(2, _storage.Stored(_id)!.LastN);
        Assert.Equal(1, _storage.MaxConcurrentWrites);
    }

    [Fact]
    public async Task Checkpoint_StorageFailing_RefusesTheElementBeyondTheBound_AndChangesNothing()
    {
        await StartAsync(Checkpoint);
        _storage.Refuse = true;
        for (var n = 1; n <= K; n++)
        {
            await StepAsync(n); // acknowledged; their checkpoints fail in the background
        }

        var before = _ledger.Live;
        var hidden = before.Hidden.ToArray();
        var refused = await Assert.ThrowsAsync<RnnStorageException>(() => StepAsync(5));
        Assert.Equal((RnnErrorKind.Storage, 5L), (refused.Kind, refused.N));
        Assert.Same(before, _ledger.Live);
        Assert.Equal(hidden, _ledger.Live.Hidden);
        Assert.Equal((4L, 0L), (_ledger.Live.LastN, _ledger.DurableN));

        _storage.Refuse = false;
        await StepAsync(5); // written with the four before it, before it is acknowledged
        Assert.Equal((5L, 5L), (_ledger.Live.LastN, _ledger.DurableN));
        Assert.Equal(15, _storage.Stored(_id)!.Hidden[0]);
    }

    [Fact]
    public async Task None_NeverWritesElements_UntilFlushed()
    {
        await StartAsync("none-model");
        var writes = _storage.Writes;
        for (var n = 1; n <= 10; n++)
        {
            await StepAsync(n);
        }

        Assert.Equal((writes, 0L), (_storage.Writes, _ledger.DurableN));
        Assert.True(await _ledger.FlushAsync());
        Assert.Equal((10L, 10L), (_ledger.DurableN, _storage.Stored(_id)!.LastN));
    }

    [Fact]
    public async Task RecordLost_WhileRunning_IsStateLost_NamingTheLastElement_AndTheMarkIsStored()
    {
        await StartAsync(EveryStep);
        await StepAsync(1);
        await StepAsync(2);
        _storage.Lose(_id);

        var lost = await Assert.ThrowsAsync<StateLostException>(() => StepAsync(3));
        Assert.Equal((RnnErrorKind.StateLost, 2L), (lost.Kind, lost.LastN));
        Assert.True(_ledger.Live.Lost);
        Assert.Equal(2L, _ledger.Live.LastN);
        Assert.True(_storage.Stored(_id)!.Lost); // a later activation reads the mark, not an empty record

        // Reset is a new first state: it replaces the mark.
        await _ledger.ReplaceAsync(First(EveryStep), "Reset");
        Assert.False(_storage.Stored(_id)!.Lost);
        await StepAsync(1);
        Assert.Equal(1L, _ledger.DurableN);
    }

    [Fact]
    public async Task RecordLost_UnderCheckpoint_IsFoundByTheBackgroundWrite()
    {
        await StartAsync(Checkpoint);
        _storage.Lose(_id);
        await StepAsync(1);
        await StepAsync(2); // starts a checkpoint, which finds the record gone
        await _ledger.SettleAsync();
        Assert.True(_ledger.Live.Lost);
        Assert.True(_storage.Stored(_id)!.Lost);
        Assert.Equal(2L, _storage.Stored(_id)!.LastN);
    }

    [Fact]
    public async Task AnotherWriter_MakesTheLedgerStale_AndItWritesNoMore()
    {
        await StartAsync(EveryStep);
        await StepAsync(1);
        _storage.Overwrite(_id);

        var refused = await Assert.ThrowsAsync<RnnStorageException>(() => StepAsync(2));
        Assert.Contains("Version conflict", refused.Message);
        Assert.True(_ledger.IsStale);
        Assert.Equal(1L, _ledger.Live.LastN);

        var writes = _storage.Writes;
        await _ledger.FlushAsync();
        Assert.Equal(writes, _storage.Writes);
    }

    [Fact]
    public async Task Circuit_OpensOnASlowFailure_RefusesWithoutCallingStorage_UntilItsProbeIsAnswered()
    {
        await StartAsync(EveryStep);
        _storage.FailAfter = StorageCircuit.SlowFailure + TimeSpan.FromMilliseconds(50);
        await Assert.ThrowsAsync<RnnStorageException>(() => StepAsync(1)); // waited: opens the circuit
        var writes = _storage.Writes;

        var fast = await Assert.ThrowsAsync<RnnStorageException>(() => StepAsync(1));
        Assert.Contains("storage unavailable", fast.Message);
        Assert.Equal(writes, _storage.Writes); // not tried

        _storage.FailAfter = null; // the circuit's own probe (a read) finds storage answering and closes it
        await TestingUtilsWait(async () =>
        {
            try
            {
                await StepAsync(1);
                return true;
            }
            catch (RnnStorageException)
            {
                return false;
            }
        });
        Assert.Equal((1L, 1L), (_ledger.Live.LastN, _ledger.DurableN));
    }

    [Fact]
    public async Task Circuit_StaysClosed_WhenStorageAnswersNoAtOnce()
    {
        await StartAsync(EveryStep);
        _storage.Refuse = true;
        await Assert.ThrowsAsync<RnnStorageException>(() => StepAsync(1));
        var writes = _storage.Writes;
        await Assert.ThrowsAsync<RnnStorageException>(() => StepAsync(1));
        Assert.Equal(writes + 1, _storage.Writes); // tried again: a quick refusal costs nothing to retry
    }

    [Fact]
    public async Task Writes_NeverOverlap_AndLandInOrder()
    {
        await StartAsync(Checkpoint);
        _storage.HoldWrites = true;
        await StepAsync(1);
        await StepAsync(2); // checkpoint of 1–2 held
        await StepAsync(3); // applied while it is held
        var flush = _ledger.FlushAsync(); // deactivation: waits for the write in flight, then writes 3 itself
        Assert.Equal(1, _storage.Held);
        _storage.Release(0, succeed: true);
        await TestingUtilsWait(() => Task.FromResult(_storage.Held == 1));
        Assert.Equal(2L, _storage.Stored(_id)!.LastN);
        _storage.Release(0, succeed: true);
        Assert.True(await flush);
        Assert.Equal(1, _storage.MaxConcurrentWrites);
        Assert.Equal((3L, 3L), (_ledger.DurableN, _storage.Stored(_id)!.LastN));
    }

    [Fact]
    public async Task Clear_DeletesTheRecord()
    {
        await StartAsync(EveryStep);
        await StepAsync(1);
        await _ledger.ClearAsync();
        Assert.Null(_storage.Stored(_id));
        Assert.Null(_ledger.Live.Model);
        Assert.Equal(0L, _ledger.DurableN);
    }

    private static Task TestingUtilsWait(Func<Task<bool>> condition) =>
        Orleans.TestingHost.Utils.TestingUtils.WaitUntilAsync(async _ => await condition(), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(20));
}
