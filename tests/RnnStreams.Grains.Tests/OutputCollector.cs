using Orleans.Streams;

namespace RnnStreams.Grains.Tests;

/// <summary>
/// Subscribes to <c>rnn-out/{sequence}</c> as every subscriber of ours does (<see cref="OutputWatch"/>: with a Watch
/// lease, so <c>WhenWatched</c> silos publish) or, for the tests of the lease itself, without one; and lets a test wait
/// for a condition on what arrived.
/// </summary>
internal sealed class OutputCollector : IAsyncDisposable
{
    private readonly List<SequenceOutput> _items = [];
    private readonly List<(Func<IReadOnlyList<SequenceOutput>, bool> Condition, TaskCompletionSource Done)> _waiters = [];
    private IAsyncDisposable? _watch;
    private StreamSubscriptionHandle<SequenceOutput>? _handle;

    public static async Task<OutputCollector> SubscribeAsync(IClusterClient client, string sequence, bool lease = true)
    {
        var collector = new OutputCollector();
        if (lease)
        {
            collector._watch = await OutputWatch.StartAsync(client, sequence, item =>
            {
                collector.Add(item);
                return Task.CompletedTask;
            });
        }
        else
        {
            var stream = client.GetStreamProvider(RnnConstants.StreamProvider).GetStream<SequenceOutput>(RnnConstants.OutputStream(sequence));
            collector._handle = await stream.SubscribeAsync((item, _) =>
            {
                collector.Add(item);
                return Task.CompletedTask;
            });
        }

        return collector;
    }

    public IReadOnlyList<SequenceOutput> Items
    {
        get
        {
            lock (_items)
            {
                return [.. _items];
            }
        }
    }

    /// <summary>Completes when <paramref name="condition"/> holds for the items received; fails after the timeout.</summary>
    public async Task<IReadOnlyList<SequenceOutput>> WaitUntilAsync(Func<IReadOnlyList<SequenceOutput>, bool> condition, int timeoutSeconds = 30)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_items)
        {
            if (condition(_items))
            {
                return [.. _items];
            }

            _waiters.Add((condition, done));
        }

        var finished = await Task.WhenAny(done.Task, Task.Delay(TimeSpan.FromSeconds(timeoutSeconds)));
        var items = Items;
        Assert.True(finished == done.Task, $"condition not met within {timeoutSeconds} s; received {items.Count} events: {string.Join(", ", items.Take(20).Select(i => $"{i.Kind}:{i.N}"))}");
        return items;
    }

    public async ValueTask DisposeAsync()
    {
        if (_watch is not null)
        {
            await _watch.DisposeAsync();
        }

        if (_handle is not null)
        {
            await _handle.UnsubscribeAsync();
        }
    }

    private void Add(SequenceOutput item)
    {
        lock (_items)
        {
            _items.Add(item);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Condition(_items))
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }
}
