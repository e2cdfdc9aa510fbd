using System.Diagnostics;
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
/// <remarks>
/// Each output remembers the activity that handed it over (when anything listens to <see cref="RnnTracing.SourceName"/>),
/// so that a batch's <c>rnn.publish</c> activity is a child of the step that produced its first output and links to the
/// steps of the others: the publish shows in the step's trace although it finishes after the step has answered.
/// </remarks>
public sealed partial class OutputPublisher(IServiceProvider services, ILogger<OutputPublisher> logger) : BackgroundService
{
    /// <summary>Outputs waiting at most; beyond it a step waits for room (back-pressure instead of unbounded memory).</summary>
    public const int Capacity = 1 << 16;

    private const int MaxBatch = 1024;
    private const int MaxConcurrentPublishes = 64;

    /// <summary>Links of one <c>rnn.publish</c> to the other steps whose outputs it carries, at most.</summary>
    private const int MaxLinks = 32;

    private readonly Channel<Pending> _channel = Channel.CreateBounded<Pending>(
        new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    private readonly Dictionary<string, Queue<Pending>> _pending = new(StringComparer.Ordinal);
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
    public ValueTask EnqueueAsync(SequenceOutput output)
    {
        // Read only when traced: with no listener an output carries an empty context and costs nothing more.
        var pending = new Pending(output, RnnTracing.Source.HasListeners() ? Activity.Current?.Context ?? default : default);
        return _channel.Writer.TryWrite(pending) ? ValueTask.CompletedTask : _channel.Writer.WriteAsync(pending);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _provider = services.GetRequiredKeyedService<IStreamProvider>(RnnConstants.StreamProvider);
        var reader = _channel.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                while (reader.TryRead(out var pending))
                {
                    string? start = null;
                    var sequence = pending.Output.Sequence;
                    lock (_pending)
                    {
                        if (!_pending.TryGetValue(sequence, out var queue))
                        {
                            _pending[sequence] = queue = new Queue<Pending>();
                        }

                        queue.Enqueue(pending);
                        if (_publishing.Add(sequence))
                        {
                            start = sequence;
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
                ActivityContext parent = default;
                List<ActivityLink>? links = null;
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
                        batch.Add(item.Output);
                        Trace(item.Context, ref parent, ref links);
                    }
                }

                using var activity = StartPublishActivity(sequence, batch, parent, links);
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
                    RnnTracing.Succeeded(activity);
                }
                catch (Exception e)
                {
                    Interlocked.Add(ref _failed, batch.Count);
                    RnnTracing.Failed(activity, e);
                    LogPublishFailed(logger, e, sequence, batch[0].N, batch.Count);
                }
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>The first traced output of a batch is its publish's parent; the other steps' contexts become links.</summary>
    private static void Trace(ActivityContext context, ref ActivityContext parent, ref List<ActivityLink>? links)
    {
        if (context == default)
        {
            return;
        }

        if (parent == default)
        {
            parent = context;
        }
        else if (context.SpanId != parent.SpanId && (links is null || (links.Count < MaxLinks && !Linked(links, context))))
        {
            (links ??= []).Add(new ActivityLink(context));
        }
    }

    private static bool Linked(List<ActivityLink> links, ActivityContext context)
    {
        foreach (var link in links)
        {
            if (link.Context.SpanId == context.SpanId)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// <c>rnn.publish</c> for a batch whose outputs came from traced steps; none for a batch of untraced ones (nothing
    /// listened, or the step was not sampled: its child follows that decision through the parent's flags).
    /// </summary>
    private static Activity? StartPublishActivity(string sequence, List<SequenceOutput> batch, ActivityContext parent, List<ActivityLink>? links)
    {
        if (parent == default)
        {
            return null;
        }

        var activity = RnnTracing.Source.StartActivity(RnnTracing.PublishActivity, ActivityKind.Producer, parent, links: links);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(RnnTracing.SequenceTag, sequence);
            activity.SetTag(RnnTracing.FirstNTag, batch[0].N);
            activity.SetTag(RnnTracing.CountTag, batch.Count);
        }

        return activity;
    }

    /// <summary>An output waiting to be published and the context of the activity that produced it (default when untraced).</summary>
    private readonly record struct Pending(SequenceOutput Output, ActivityContext Context);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish {Count} output(s) of sequence {Sequence} from n={N}; subscribers see a gap")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string sequence, long n, int count);
}
