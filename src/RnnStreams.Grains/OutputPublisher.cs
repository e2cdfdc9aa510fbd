using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Streams;

namespace RnnStreams.Grains;

/// <summary>
/// Publishes the outputs of every sequence of this silo on their <c>rnn-out/{sequence}</c> streams, off the step's
/// path: a sequence hands its outputs over without waiting for the stream, so a step costs one grain call, not two.
/// Outputs of one sequence keep their order (one publish at a time per stream); whatever accumulated for a stream
/// while its previous publish ran goes out as one batch; different streams publish concurrently.
/// </summary>
public sealed partial class OutputPublisher(IServiceProvider services, ILogger<OutputPublisher> logger) : BackgroundService
{
    /// <summary>Outputs waiting at most; beyond it a step waits for room (back-pressure instead of unbounded memory).</summary>
    public const int Capacity = 1 << 16;

    private const int MaxBatch = 1024;
    private const int MaxConcurrentPublishes = 64;

    private readonly Channel<SequenceOutput> _channel = Channel.CreateBounded<SequenceOutput>(
        new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly Dictionary<string, Queue<SequenceOutput>> _pending = new(StringComparer.Ordinal);
    private readonly HashSet<string> _publishing = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _slots = new(MaxConcurrentPublishes);
    private IStreamProvider? _provider;
    private long _published;
    private long _failed;

    /// <summary>Outputs published so far.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Outputs whose publish failed (a stream queue on a dead silo, a full queue); logged.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Hands outputs over; completes at once unless <see cref="Capacity"/> outputs are already waiting.</summary>
    public ValueTask EnqueueAsync(SequenceOutput output) =>
        _channel.Writer.TryWrite(output) ? ValueTask.CompletedTask : _channel.Writer.WriteAsync(output);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _provider = services.GetRequiredKeyedService<IStreamProvider>(RnnConstants.StreamProvider);
        var reader = _channel.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                while (reader.TryRead(out var output))
                {
                    string? start = null;
                    lock (_pending)
                    {
                        if (!_pending.TryGetValue(output.Sequence, out var queue))
                        {
                            _pending[output.Sequence] = queue = new Queue<SequenceOutput>();
                        }

                        queue.Enqueue(output);
                        if (_publishing.Add(output.Sequence))
                        {
                            start = output.Sequence;
                        }
                    }

                    if (start is not null)
                    {
                        await _slots.WaitAsync(stoppingToken);
                        _ = DrainAsync(start);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Publishes one stream's waiting outputs, batch after batch, until none are left.</summary>
    private async Task DrainAsync(string sequence)
    {
        try
        {
            var stream = _provider!.GetStream<SequenceOutput>(RnnConstants.OutputStream(sequence));
            while (true)
            {
                List<SequenceOutput> batch;
                lock (_pending)
                {
                    var queue = _pending[sequence];
                    if (queue.Count == 0)
                    {
                        _pending.Remove(sequence);
                        _publishing.Remove(sequence);
                        return;
                    }

                    batch = new List<SequenceOutput>(Math.Min(queue.Count, MaxBatch));
                    while (batch.Count < MaxBatch && queue.TryDequeue(out var item))
                    {
                        batch.Add(item);
                    }
                }

                try
                {
                    if (batch.Count == 1)
                    {
                        await stream.OnNextAsync(batch[0]);
                    }
                    else
                    {
                        await stream.OnNextBatchAsync(batch);
                    }

                    Interlocked.Add(ref _published, batch.Count);
                }
                catch (Exception e)
                {
                    Interlocked.Add(ref _failed, batch.Count);
                    LogPublishFailed(logger, e, sequence, batch[0].N, batch.Count);
                }
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish {Count} output(s) of sequence {Sequence} from n={N}; subscribers see a gap")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string sequence, long n, int count);
}
