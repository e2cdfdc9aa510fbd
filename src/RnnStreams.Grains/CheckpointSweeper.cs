using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace RnnStreams.Grains;

/// <summary>Lets the silo's sweeper ask a sequence to write its state; not part of the public contract.</summary>
internal interface ISequenceCheckpoint : IGrainWithStringKey
{
    /// <summary>Writes the state if it has unwritten elements.</summary>
    Task Checkpoint();
}

/// <summary>
/// The t of <c>Checkpoint(k, t)</c> without a timer per sequence: a sequence that becomes dirty registers its due time
/// here; a step that finds its sequence past due writes at once, and one sweep loop per silo asks only the sequences
/// that went quiet while dirty to write. An active sequence costs a time comparison per step.
/// </summary>
public sealed partial class CheckpointSweeper(IGrainFactory grains, ILogger<CheckpointSweeper> logger) : BackgroundService
{
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Timed checkpoint of sequence {Sequence} failed; it is written at its next checkpoint or deactivation")]
    private static partial void LogFailed(ILogger logger, Exception exception, string sequence);
}
