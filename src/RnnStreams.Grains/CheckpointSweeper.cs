using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace RnnStreams.Grains;

/// <summary>Lets the silo's sweeper ask a sequence to write its state; not part of the public contract.</summary>
internal interface ISequenceCheckpoint : IGrainWithStringKey
{
    /// <summary>Writes the state if it has unwritten elements; how many acknowledged elements storage still does not hold.</summary>
    Task<long> Checkpoint();
}

/// <summary>
/// The t of <c>Checkpoint(k, t)</c> without a timer per sequence: a sequence with unwritten elements registers its due
/// time here; a step that finds its sequence past due writes at once, and one sweep loop per silo asks only the
/// sequences that went quiet while dirty to write. An active sequence costs a time comparison per step. When the silo
/// stops, before it leaves the cluster, every registered sequence is asked to write (see <see cref="FlushAllAsync"/>).
/// </summary>
public sealed partial class CheckpointSweeper(IGrainFactory grains, ILogger<CheckpointSweeper> logger)
    : BackgroundService, ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>How many sequences write at once when the silo stops.</summary>
    private const int StopParallelism = 64;

    /// <summary>How many sequences that could not write a stopping silo names one by one (the rest are counted).</summary>
    private const int MaxListed = 100;

    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(100);
    private readonly ConcurrentDictionary<string, long> _due = new(StringComparer.Ordinal);

    /// <summary>Sequences waiting for a checkpoint.</summary>
    public int Count => _due.Count;

    /// <summary>A sequence became dirty; it must be written by <paramref name="dueTimestamp"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public void Register(string sequence, long dueTimestamp) => _due[sequence] = dueTimestamp;

    /// <summary>The sequence wrote its state (or ended).</summary>
    public void Remove(string sequence) => _due.TryRemove(sequence, out _);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = Stopwatch.GetTimestamp();
                foreach (var (sequence, due) in _due)
                {
                    if (due <= now && _due.TryRemove(new KeyValuePair<string, long>(sequence, due)))
                    {
                        _ = CheckpointAsync(sequence);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Subscribes <see cref="FlushAllAsync"/> to the first stage a stopping silo leaves (<c>Active</c>): sequences write
    /// before Orleans updates the membership table and deactivates grains — steps that can each wait out storage's
    /// timeout when storage is down, and that the host's shutdown budget can cancel.
    /// </summary>
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(CheckpointSweeper), ServiceLifecycleStage.Active, _ => Task.CompletedTask, FlushAllAsync);

    /// <summary>
    /// Asks every sequence with unwritten elements to write them. Under a storage outage each refusal is immediate (the
    /// storage circuit is open) and the sequence logs what it has not written; what a crash would lose is what that
    /// says.
    /// </summary>
    public async Task FlushAllAsync(CancellationToken cancellationToken)
    {
        var sequences = _due.Keys.ToArray();
        if (sequences.Length == 0)
        {
            return;
        }

        var failed = 0;
        var started = Stopwatch.GetTimestamp();
        try
        {
            await Parallel.ForEachAsync(sequences, new ParallelOptions { MaxDegreeOfParallelism = StopParallelism, CancellationToken = cancellationToken }, async (sequence, _) =>
            {
                var unwritten = await grains.GetGrain<ISequenceCheckpoint>(sequence).Checkpoint();
                if (unwritten > 0 && Interlocked.Increment(ref failed) <= MaxListed)
                {
                    LogUnwritten(logger, sequence, unwritten);
                }
            });
        }
        catch (OperationCanceledException)
        {
        }

        if (failed > 0)
        {
            LogNotFlushed(logger, sequences.Length, failed, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
        else
        {
            LogFlushed(logger, sequences.Length, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    private async Task CheckpointAsync(string sequence)
    {
        try
        {
            await grains.GetGrain<ISequenceCheckpoint>(sequence).Checkpoint();
        }
        catch (Exception e)
        {
            LogFailed(logger, e, sequence);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo stopping: sequence {Sequence} has {Unwritten} acknowledged elements not written (storage failing): they are lost if the silo stops before it can write them")]
    private static partial void LogUnwritten(ILogger logger, string sequence, long unwritten);

    [LoggerMessage(Level = LogLevel.Information, Message = "Silo stopping: {Sequences} sequences wrote their unwritten elements in {Seconds:F1} s")]
    private static partial void LogFlushed(ILogger logger, int sequences, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo stopping: {Failed} of {Sequences} sequences could not write their unwritten elements (storage failing, {Seconds:F1} s); each is lost from its last checkpoint on (at most its policy's k elements or t) unless it can write before it deactivates")]
    private static partial void LogNotFlushed(ILogger logger, int sequences, int failed, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Timed checkpoint of sequence {Sequence} failed; it is written at its next checkpoint or deactivation")]
    private static partial void LogFailed(ILogger logger, Exception exception, string sequence);
}
